//! Integration tests of kmn-pki: the real `kmn` binary, real SQLite and PostgreSQL,
//! OpenSSL and pkilint on real output. One binary, modules per topic.

mod accounts;
mod api;
mod api_fixture;
mod association;
mod audit;
mod backup;
mod bad_input;
mod card_pins;
mod cards;
mod ceremony;
mod crl;
mod delivery;
mod doctors;
mod door;
mod emergency;
mod evidence;
#[cfg(feature = "fault-points")]
mod faults;
mod gateway;
mod gateway_hpki;
mod guide;
mod holder_emergency;
mod hsm;
mod instances;
mod listeners;
mod ocsp;
mod operator_tokens;
mod ops;
mod portal;
mod proposal;
mod serve;
mod station;
mod story;
mod support;
mod tls_listener;
mod verify_cmd;
