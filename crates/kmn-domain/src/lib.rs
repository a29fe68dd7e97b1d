//! Pure domain rules of kmn-pki: newtypes parsed once at the edge, the certificate
//! status machine and revocation reasons.
//!
//! Nothing here performs I/O, talks to a database or reads the clock: time is always an
//! argument. Each rule names its source (an article of the terms of use, `第N条`, or an
//! RFC section) in its doc comment, and its tests are named after it.

pub mod cert;
pub mod serial;
pub mod time_fmt;

pub use cert::{CertStatus, CertStatusError, ProfileKind, RevocationReason, ValidityPeriod};
pub use serial::{CertSerial, CrlNumber, SerialParseError};
