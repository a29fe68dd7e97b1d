//! Integration tests of kmn-pki: the real `kmn` binary, real SQLite and PostgreSQL,
//! OpenSSL and pkilint on real output. One binary, modules per topic.

mod api;
mod api_fixture;
mod audit;
mod bad_input;
mod card_pins;
mod cards;
mod ceremony;
mod ops;
mod serve;
mod story;
mod support;
mod verify_cmd;
