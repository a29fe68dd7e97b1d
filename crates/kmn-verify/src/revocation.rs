//! Revocation from indexes built once per CRL (issue #11, "revocation live").
//!
//! [`RevocationIndex::build`] parses a CRL, verifies its signature with one of the given
//! issuer certificates and its structure (cRLNumber, critical extensions, scope), and keeps
//! only what a check needs: the issuer's key and name, thisUpdate, nextUpdate, cRLNumber, the
//! partition it covers (its issuingDistributionPoint) and the revoked serial numbers, sorted.
//! A check is then a binary search: no parsing, no signature.
//!
//! [`RevocationStore`] holds the indexes of several sources (one per CRL URL or file) in an
//! immutable [`RevocationSnapshot`] behind an `Arc` that updates replace as a whole: a lookup
//! clones the `Arc` under a read lock held for a pointer copy, so installing a new index for a
//! million-entry CRL (built beforehand, outside any lock) never blocks verifications.
//! [`crate::verify_with_index`] validates a path and checks every certificate but the anchor
//! against the snapshot.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::asn1::fmt_time;
use crate::cert::{Cert, GeneralName, ku};
use crate::crl::{Crl, REMOVE_FROM_CRL, reason_name};
use crate::error::VerifyError;
use crate::name::Name;
use crate::sig;
use crate::validate::crl_structure_problem;

/// Longest serial number (INTEGER content octets) an index holds: 20 octets (RFC 5280
/// §4.1.2.2) plus a leading zero octet. A CRL with a longer one is refused.
pub const MAX_SERIAL_LEN: usize = 21;

/// Why a CRL could not be turned into an index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CRL not usable: {detail}")]
pub struct IndexError {
    pub detail: String,
}

fn index_error(detail: impl Into<String>) -> IndexError {
    IndexError {
        detail: detail.into(),
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Length, then the serial's content octets, zero-padded.
    key: [u8; MAX_SERIAL_LEN + 1],
    reason: u8,
    date: i64,
}

const NO_REASON: u8 = 0xff;

fn key_of(serial: &[u8]) -> Option<[u8; MAX_SERIAL_LEN + 1]> {
    let mut key = [0u8; MAX_SERIAL_LEN + 1];
    let (len, rest) = key.split_first_mut()?;
    *len = u8::try_from(serial.len()).ok()?;
    rest.get_mut(..serial.len())?.copy_from_slice(serial);
    Some(key)
}

/// The result of looking a serial number up in one index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationStatus {
    /// Not on a current CRL.
    Good,
    /// On the CRL (a removeFromCRL entry does not count).
    Revoked {
        /// CRLReason name (RFC 5280 §5.3.1), "unspecified" when the entry has none.
        reason: &'static str,
        /// revocationDate, RFC 3339.
        date: String,
    },
    /// The CRL cannot say (not yet valid, or past its nextUpdate): fail closed.
    Unknown { why: String },
}

/// The revoked serial numbers of one verified CRL, with what is needed to decide whether the
/// CRL may answer for a certificate. Built once per CRL; immutable.
#[derive(Debug, Clone)]
pub struct RevocationIndex {
    issuer_display: String,
    issuer_name: Name,
    /// subjectPublicKey of the certificate whose key verified the CRL.
    issuer_key: Vec<u8>,
    this_update: i64,
    next_update: i64,
    number: Vec<u8>,
    /// The issuingDistributionPoint's full names: the partition this CRL covers. `None`: a
    /// complete CRL for every certificate of the issuer.
    partition: Option<Vec<GeneralName>>,
    only_user: bool,
    only_ca: bool,
    /// Sorted by key; one entry per serial number.
    entries: Vec<Entry>,
}

impl RevocationIndex {
    /// Builds the index of `crl_der` (DER), which must be signed by one of `issuers` (DER
    /// certificates, e.g. the G1 and G2 issuing CAs): the certificate whose subject is the
    /// CRL's issuer, whose keyUsage allows cRLSign and whose key verifies the signature.
    ///
    /// Refused: a delta or indirect CRL, one covering only some reasons or only attribute
    /// certificates, one without nextUpdate or cRLNumber, one with an unknown critical
    /// (entry) extension or a critical extension RFC 5280 requires to be non-critical, a
    /// serial number longer than [`MAX_SERIAL_LEN`] octets. Signatures must be SHA-2 (or
    /// Ed25519) with RSA keys of 2048 bits or more, as in the kmn profile. The issuer
    /// certificates themselves are not validated here: a check uses the index only for a
    /// certificate whose validated path has an issuer with the same name and key.
    pub fn build(crl_der: &[u8], issuers: &[Vec<u8>]) -> Result<RevocationIndex, IndexError> {
        let crl =
            Crl::parse(crl_der).map_err(|e| index_error(format!("could not parse it: {e}")))?;
        let who =
            |detail: String| index_error(format!("CRL of '{}': {detail}", crl.issuer_display));
        if crl.is_delta {
            return Err(who("it is a delta CRL (not supported)".into()));
        }
        if let Some(why) = crl_structure_problem(&crl) {
            return Err(who(why));
        }
        let next_update = crl
            .next_update
            .ok_or_else(|| who("it has no nextUpdate".into()))?;
        let mut partition = None;
        let (mut only_user, mut only_ca) = (false, false);
        if let Some(idp) = &crl.idp {
            if idp.indirect {
                return Err(who("indirect CRLs are not supported by the index".into()));
            }
            if idp.only_attribute {
                return Err(who("it covers only attribute certificates".into()));
            }
            if idp.only_some_reasons.is_some() {
                return Err(who(
                    "it covers only some revocation reasons (onlySomeReasons is not supported by the index)"
                        .into(),
                ));
            }
            partition = idp.dp.as_ref().map(|dp| dp.full_names(&crl.issuer));
            only_user = idp.only_user;
            only_ca = idp.only_ca;
        }
        let mut problems = Vec::new();
        let mut signer = None;
        for (i, der) in issuers.iter().enumerate() {
            let c = match Cert::parse(der) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(format!("issuer certificate #{} is unreadable: {e}", i + 1));
                    continue;
                }
            };
            if !c.subject.matches(&crl.issuer) {
                continue;
            }
            if !c.has_key_usage(ku::CRL_SIGN) {
                problems.push(format!(
                    "'{}' may not sign CRLs (its keyUsage lacks cRLSign)",
                    c.subject_display
                ));
                continue;
            }
            match sig::verify(&crl.sig_alg, &c.spki, &crl.tbs, &crl.signature, false) {
                Ok(()) => {
                    signer = Some(c);
                    break;
                }
                Err(sig::SigError::Invalid) => problems.push(format!(
                    "its signature does not verify with the key of '{}'",
                    c.subject_display
                )),
                Err(sig::SigError::Unsupported(d)) => {
                    problems.push(format!("unsupported algorithm: {d}"))
                }
            }
        }
        let Some(signer) = signer else {
            if problems.is_empty() {
                problems.push("no certificate of its issuer was given".into());
            }
            return Err(who(problems.join("; ")));
        };
        let mut entries = Vec::new();
        crl.for_each_entry(|serial, date, reason, has_cert_issuer| {
            if has_cert_issuer {
                return Err("an entry has a certificateIssuer extension (indirect CRL)".into());
            }
            if reason == Some(REMOVE_FROM_CRL) {
                return Ok(());
            }
            let key = key_of(serial).filter(|_| serial.len() <= MAX_SERIAL_LEN);
            let Some(key) = key else {
                return Err(format!(
                    "an entry's serial number has {} octets (at most {MAX_SERIAL_LEN})",
                    serial.len()
                ));
            };
            entries.push(Entry {
                key,
                reason: reason
                    .and_then(|r| u8::try_from(r).ok())
                    .unwrap_or(NO_REASON),
                date,
            });
            Ok(())
        })
        .map_err(who)?;
        // One entry per serial: the earliest revocation counts.
        entries.sort_unstable_by(|a, b| a.key.cmp(&b.key).then(a.date.cmp(&b.date)));
        entries.dedup_by(|later, first| later.key == first.key);
        entries.shrink_to_fit();
        Ok(RevocationIndex {
            issuer_display: crl.issuer_display.clone(),
            issuer_name: crl.issuer.clone(),
            issuer_key: signer.spki.key,
            this_update: crl.this_update,
            next_update,
            number: crl.number.clone().unwrap_or_default(),
            partition,
            only_user,
            only_ca,
            entries,
        })
    }

    /// The CRL issuer's name (RFC 4514 style).
    pub fn issuer(&self) -> &str {
        &self.issuer_display
    }

    /// thisUpdate, Unix seconds.
    pub fn this_update(&self) -> i64 {
        self.this_update
    }

    /// nextUpdate, Unix seconds.
    pub fn next_update(&self) -> i64 {
        self.next_update
    }

    /// cRLNumber, big-endian (the INTEGER's content octets).
    pub fn crl_number(&self) -> &[u8] {
        &self.number
    }

    /// Number of revoked serial numbers held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Heap memory held by the index, in bytes (the entries dominate: 32 bytes each).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.issuer_key.capacity()
            + self.number.capacity()
            + self.issuer_display.capacity()
    }

    fn lookup(&self, serial: &[u8]) -> Option<&Entry> {
        let key = key_of(serial)?;
        let i = self.entries.binary_search_by(|e| e.key.cmp(&key)).ok()?;
        self.entries.get(i)
    }

    /// Looks `serial` (the certificate serial's INTEGER content octets, as in the DER) up at
    /// time `at` (Unix seconds): revoked if listed; otherwise good while
    /// thisUpdate ≤ `at` ≤ nextUpdate, unknown outside (fail closed).
    pub fn check(&self, serial: &[u8], at: i64) -> RevocationStatus {
        self.check_with_grace(serial, at, 0)
    }

    fn check_with_grace(&self, serial: &[u8], at: i64, grace: i64) -> RevocationStatus {
        if let Some(e) = self.lookup(serial) {
            return RevocationStatus::Revoked {
                reason: reason_name(if e.reason == NO_REASON {
                    0
                } else {
                    u32::from(e.reason)
                }),
                date: fmt_time(e.date),
            };
        }
        if at < self.this_update {
            return RevocationStatus::Unknown {
                why: format!(
                    "CRL of '{}' is not valid before its thisUpdate ({})",
                    self.issuer_display,
                    fmt_time(self.this_update)
                ),
            };
        }
        if at > self.next_update.saturating_add(grace) {
            return RevocationStatus::Unknown {
                why: format!(
                    "CRL of '{}' is past its nextUpdate ({}){}",
                    self.issuer_display,
                    fmt_time(self.next_update),
                    if grace > 0 {
                        format!(" and the grace of {grace} s")
                    } else {
                        String::new()
                    }
                ),
            };
        }
        RevocationStatus::Good
    }

    /// Whether this CRL is the one for `cert` (issued by this index's issuer): `Ok` if it
    /// covers it, `Err(None)` if it is another partition's, `Err(Some(why))` if its scope
    /// excludes the certificate.
    fn covers(&self, cert: &Cert) -> Result<(), Option<String>> {
        let is_ca = cert.basic_constraints.is_some_and(|b| b.ca);
        if self.only_user && is_ca {
            return Err(Some(format!(
                "CRL of '{}' covers only end-entity certificates",
                self.issuer_display
            )));
        }
        if self.only_ca && !is_ca {
            return Err(Some(format!(
                "CRL of '{}' covers only CA certificates",
                self.issuer_display
            )));
        }
        let Some(partition) = &self.partition else {
            return Ok(());
        };
        let named = cert.crl_dps.iter().flatten().any(|dp| {
            dp.crl_issuer.is_none()
                && dp.name.as_ref().is_some_and(|n| {
                    n.full_names(&cert.issuer)
                        .iter()
                        .any(|a| partition.iter().any(|b| a.matches(b)))
                })
        });
        if named { Ok(()) } else { Err(None) }
    }

    fn partition_names(&self) -> String {
        match &self.partition {
            None => "all".into(),
            Some(p) => p.iter().map(describe_name).collect::<Vec<_>>().join(", "),
        }
    }
}

fn describe_name(n: &GeneralName) -> String {
    match n {
        GeneralName::Uri(u) => u.escape_debug().to_string(),
        GeneralName::Directory(d) => d.to_string(),
        GeneralName::Dns(s) | GeneralName::Rfc822(s) => s.escape_debug().to_string(),
        GeneralName::Ip(b) => hex::encode(b),
        GeneralName::Other(t, _) => format!("[{}]", t & 0x1f),
    }
}

/// The distribution point names of `cert` (for messages).
fn cert_partitions(cert: &Cert) -> String {
    let names: Vec<String> = cert
        .crl_dps
        .iter()
        .flatten()
        .filter_map(|dp| dp.name.as_ref())
        .flat_map(|n| n.full_names(&cert.issuer))
        .map(|n| describe_name(&n))
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// How strictly the store treats old data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RevocationConfig {
    /// Time past a CRL's nextUpdate during which it is still used (default 0: none).
    pub next_update_grace: Duration,
    /// When set: a source whose last successful fetch (200 or 304) is older than this fails
    /// closed ("unreachable since …"), whatever its CRL's nextUpdate says. Sources installed
    /// without fetching (files) are not subject to it.
    pub unreachable_grace: Option<Duration>,
}

/// One source (a CRL URL or file) in a snapshot.
#[derive(Debug, Clone)]
pub struct SourceState {
    /// The URL or file name.
    pub source: String,
    /// The index of the last good CRL, if any.
    pub index: Option<Arc<RevocationIndex>>,
    /// The entity tag the server sent with that CRL.
    pub etag: Option<String>,
    /// Last successful fetch (a new CRL or a 304), Unix seconds.
    pub last_success: Option<i64>,
    /// First failure since the last success, Unix seconds.
    pub failing_since: Option<i64>,
    /// The last failure's reason.
    pub last_error: Option<String>,
}

impl SourceState {
    fn new(source: &str) -> SourceState {
        SourceState {
            source: source.to_string(),
            index: None,
            etag: None,
            last_success: None,
            failing_since: None,
            last_error: None,
        }
    }
}

impl SourceState {
    /// One line on the source at `at` (Unix seconds), for logs and health pages: the CRL held
    /// and its age, or why there is none, and the current failure if any. E.g.
    /// `http://…/kmn-issuing-g1.crl: cRLNumber 05, 3 revoked, fetched 42 s ago, nextUpdate
    /// 2030-06-02T00:00:00Z; failing since 2030-06-01T00:05:00Z: cannot connect …`.
    pub fn describe(&self, at: i64) -> String {
        let mut out = format!("{}: ", self.source);
        match &self.index {
            Some(ix) => {
                out.push_str(&format!(
                    "cRLNumber {}, {} revoked",
                    hex::encode(&ix.number),
                    ix.len()
                ));
                if let Some(t) = self.last_success {
                    out.push_str(&format!(", fetched {} s ago", at.saturating_sub(t)));
                }
                out.push_str(&format!(", nextUpdate {}", fmt_time(ix.next_update)));
                if at > ix.next_update {
                    out.push_str(" (past)");
                }
            }
            None => out.push_str("no CRL loaded"),
        }
        if let Some(since) = self.failing_since {
            out.push_str(&format!("; failing since {}", fmt_time(since)));
            if let Some(e) = &self.last_error {
                out.push_str(&format!(": {e}"));
            }
        }
        out
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// An immutable set of sources and their indexes: what one verification looks at.
#[derive(Debug, Clone, Default)]
pub struct RevocationSnapshot {
    config: RevocationConfig,
    sources: Vec<SourceState>,
}

impl RevocationSnapshot {
    /// The sources, in the order they were first seen.
    pub fn sources(&self) -> &[SourceState] {
        &self.sources
    }

    /// Why `s` (one of [`Self::sources`]) cannot answer for logins at `at` (Unix seconds),
    /// or `None` when it can: the same freshness test a verification applies (no extra
    /// per-profile grace). For health pages and metrics.
    pub fn source_problem(&self, s: &SourceState, at: i64) -> Option<String> {
        match &s.index {
            Some(ix) => self.freshness(s, ix, at, 0).err(),
            None => Some(match &s.last_error {
                Some(e) => format!("no CRL loaded: {e}"),
                None => "no CRL loaded yet".to_string(),
            }),
        }
    }

    /// Whether a source may answer at `at`: its CRL current (within the nextUpdate grace) and,
    /// with an unreachable grace, fetched recently enough.
    fn freshness(
        &self,
        s: &SourceState,
        ix: &RevocationIndex,
        at: i64,
        extra_grace: i64,
    ) -> Result<(), String> {
        if let Some(grace) = self.config.unreachable_grace
            && let Some(last) = s.last_success
            && at.saturating_sub(last) > secs(grace)
        {
            let what = match s.failing_since {
                Some(since) => format!("unreachable since {}", fmt_time(since)),
                None => "not fetched".to_string(),
            };
            return Err(format!(
                "CRL of '{}' {what} at {} (last fetched {}, grace {} s){}",
                ix.issuer_display,
                s.source,
                fmt_time(last),
                grace.as_secs(),
                s.last_error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
        let grace = secs(self.config.next_update_grace).saturating_add(extra_grace);
        match ix.check_with_grace(&[], at, grace) {
            RevocationStatus::Unknown { why } => Err(format!("{why} (from {})", s.source)),
            _ => Ok(()),
        }
    }

    /// RFC 5280 §6.3 for `cert`, whose issuer on the validated path is `issuer`, from the
    /// indexes: revoked if any index of that issuer (same name and key) lists it; good if an
    /// index covering its partition is current; otherwise it fails closed with the reasons.
    pub(crate) fn check_cert(
        &self,
        cert: &Cert,
        issuer: &Cert,
        at: i64,
        extra_grace: i64,
    ) -> Result<(), VerifyError> {
        let mut problems: Vec<String> = Vec::new();
        let mut covered = false;
        let mut same_issuer = 0usize;
        for s in &self.sources {
            let Some(ix) = &s.index else { continue };
            if ix.issuer_key != issuer.spki.key || !ix.issuer_name.matches(&cert.issuer) {
                continue;
            }
            same_issuer += 1;
            match ix.covers(cert) {
                Ok(()) => {}
                Err(None) => continue,
                Err(Some(why)) => {
                    problems.push(why);
                    continue;
                }
            }
            if let Some(e) = ix.lookup(&cert.serial) {
                return Err(VerifyError::Revoked {
                    subject: cert.subject_display.clone(),
                    date: fmt_time(e.date),
                    reason: reason_name(if e.reason == NO_REASON {
                        0
                    } else {
                        u32::from(e.reason)
                    })
                    .to_string(),
                });
            }
            match self.freshness(s, ix, at, extra_grace) {
                Ok(()) => covered = true,
                Err(why) => problems.push(why),
            }
        }
        if covered {
            return Ok(());
        }
        if problems.is_empty() {
            problems.push(if same_issuer > 0 {
                format!(
                    "no CRL of '{}' covers its partition (its CRL distribution points: {}; loaded partitions: {})",
                    cert.issuer,
                    cert_partitions(cert),
                    self.sources
                        .iter()
                        .filter_map(|s| s.index.as_ref())
                        .filter(|ix| ix.issuer_key == issuer.spki.key)
                        .map(|ix| ix.partition_names())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            } else {
                format!("no CRL of '{}' (with its key) is loaded", cert.issuer)
            });
        }
        for s in self.sources.iter().filter(|s| s.index.is_none()) {
            if let Some(e) = &s.last_error {
                problems.push(format!(
                    "{} never loaded (failing since {}): {e}",
                    s.source,
                    fmt_time(s.failing_since.unwrap_or(0))
                ));
            }
        }
        Err(VerifyError::NoCrl {
            subject: cert.subject_display.clone(),
            detail: format!(": {}", problems.join("; ")),
        })
    }
}

/// The current [`RevocationSnapshot`], replaced as a whole by each update.
#[derive(Debug, Default)]
pub struct RevocationStore {
    current: RwLock<Arc<RevocationSnapshot>>,
    /// Serialises updates (read-modify-swap), never held by readers.
    writer: Mutex<()>,
}

impl RevocationStore {
    pub fn new(config: RevocationConfig) -> RevocationStore {
        RevocationStore {
            current: RwLock::new(Arc::new(RevocationSnapshot {
                config,
                sources: Vec::new(),
            })),
            writer: Mutex::new(()),
        }
    }

    /// The current snapshot (a pointer copy under a read lock).
    pub fn snapshot(&self) -> Arc<RevocationSnapshot> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn update<T>(&self, source: &str, f: impl FnOnce(&mut SourceState) -> T) -> T {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = (*self.snapshot()).clone();
        let pos = match next.sources.iter().position(|s| s.source == source) {
            Some(p) => p,
            None => {
                next.sources.push(SourceState::new(source));
                next.sources.len() - 1
            }
        };
        let out = match next.sources.get_mut(pos) {
            Some(s) => f(s),
            None => f(&mut SourceState::new(source)),
        };
        let next = Arc::new(next);
        match self.current.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        out
    }

    /// Registers `source` with no index yet (a certificate its CRL would cover fails closed
    /// until it is loaded).
    pub fn add_source(&self, source: &str) {
        self.update(source, |_| ());
    }

    /// Installs a freshly built index for `source`, fetched at `at` (Unix seconds) with
    /// entity tag `etag`. Refused (the old index is kept) when the source already holds a
    /// CRL of the same issuer with a higher cRLNumber: a CRL never goes back.
    pub fn install(
        &self,
        source: &str,
        index: RevocationIndex,
        etag: Option<String>,
        at: i64,
    ) -> Result<(), String> {
        self.update(source, |s| {
            if let Some(old) = &s.index
                && old.issuer_key == index.issuer_key
                && number_cmp(&index.number, &old.number).is_lt()
            {
                let why = format!(
                    "CRL of '{}' from {} has cRLNumber {} below the one held ({}): not installed",
                    index.issuer_display,
                    source,
                    hex::encode(&index.number),
                    hex::encode(&old.number)
                );
                s.failing_since.get_or_insert(at);
                s.last_error = Some(why.clone());
                return Err(why);
            }
            s.index = Some(Arc::new(index));
            s.etag = etag;
            s.last_success = Some(at);
            s.failing_since = None;
            s.last_error = None;
            Ok(())
        })
    }

    /// A successful refetch that found the CRL unchanged (HTTP 304).
    pub fn record_not_modified(&self, source: &str, at: i64) {
        self.update(source, |s| {
            s.last_success = Some(at);
            s.failing_since = None;
            s.last_error = None;
        });
    }

    /// A failed fetch (or a CRL that could not be indexed): the old index is kept.
    pub fn record_failure(&self, source: &str, at: i64, error: &str) {
        self.update(source, |s| {
            s.failing_since.get_or_insert(at);
            s.last_error = Some(error.to_string());
        });
    }
}

/// Compares two non-negative INTEGER content octet strings.
fn number_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let strip = |x: &[u8]| -> Vec<u8> { x.iter().copied().skip_while(|b| *b == 0).collect() };
    let (a, b) = (strip(a), strip(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_numbers() {
        assert!(key_of(&[1, 2]).unwrap() < key_of(&[1, 2, 3]).unwrap());
        assert!(key_of(&[0; 22]).is_none());
        assert!(number_cmp(&[0, 0x80], &[0x7f]).is_gt());
        assert!(number_cmp(&[2], &[1, 0]).is_lt());
        assert!(number_cmp(&[1], &[1]).is_eq());
    }
}
