//! The registration authority (サポートセンター): facilities, people, applications and
//! review, cards, notices, documents and accounts, per the terms (第1–8・10・13–15・17・25条).

pub mod accounts;
pub mod applications;
pub mod association;
pub mod delivery;
pub mod doctors;
pub mod documents;
pub mod emergency;
pub mod facilities;
pub mod notify;
pub mod persons;
pub mod public_notices;

pub(crate) use crate::finish;
