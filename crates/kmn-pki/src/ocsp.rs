//! OCSP (RFC 6960): the request reader (hostile input from anyone on the network), the
//! response encoder with its lints, and a reader of responses for read-back and tests.
//!
//! Responses are pre-signed (DESIGN §4): nothing on the request path signs. The responder
//! parses the request ([`parse_request`]), finds the issuer by its name and key hashes and
//! the stored response by serial, and answers the stored bytes — or one of the unsigned
//! error responses of [`unsigned`] (`malformedRequest`, `unauthorized`, …).
//!
//! The encoder follows the certificate pipeline: [`prepare`] builds the `ResponseData`
//! and lints it, and only the resulting [`LintedResponse`] token reaches
//! [`LintedResponse::sign`]. The lints keep every response inside its signer's validity
//! (a response must never outlive the delegated signer that vouches for it).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use kmn_domain::RevocationReason;
use sha1::Digest as _;
use time::OffsetDateTime;

use crate::derr::{self, Tlv};
use crate::derw::{self, tag};
use crate::keys::Signer;
use crate::lint::LintFailure;
use crate::{PkiError, oid, parse};

/// id-pkix-ocsp-basic (RFC 6960 §4.2.1).
const OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";
/// id-pkix-ocsp-nonce (RFC 6960 §4.4.1).
const OCSP_NONCE: &str = "1.3.6.1.5.5.7.48.1.2";
/// id-sha1.
const SHA1: &str = "1.3.14.3.2.26";

/// The largest OCSP request read (a single request with a nonce and a requestor name is
/// a few hundred octets; signed requests with certificates a few kilobytes).
pub const MAX_REQUEST_LEN: usize = 16 * 1024;

/// The hash algorithms a CertID may use (RFC 6960 §4.1.1; SHA-256 per RFC 6960 and CA/B
/// practice, SHA-1 because most clients still send it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// id-sha1.
    Sha1,
    /// id-sha256.
    Sha256,
}

impl HashAlg {
    /// Both, in the order responses are pre-signed.
    pub const ALL: [HashAlg; 2] = [HashAlg::Sha1, HashAlg::Sha256];

    /// Digest length in octets.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
        }
    }

    /// Stable name (`sha1`, `sha256`), as stored beside pre-signed responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    /// The AlgorithmIdentifier, parameters absent (RFC 3370 §2.1, RFC 5754 §2).
    fn algorithm_identifier(self) -> Vec<u8> {
        match self {
            Self::Sha1 => derw::seq(&[&oid_der(SHA1)]),
            Self::Sha256 => derw::seq(&[&derw::oid(&oid::SHA256)]),
        }
    }
}

fn oid_der(dotted: &str) -> Vec<u8> {
    // The constants above are valid OIDs; an invalid one would be a programming error
    // caught by the unit tests, so fall back to an empty OID rather than panic.
    const_oid::ObjectIdentifier::new(dotted)
        .map(|o| derw::oid(&o))
        .unwrap_or_default()
}

/// The CertID of RFC 6960 §4.1.1: which certificate a request asks about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CertId {
    /// The hash algorithm of the two issuer hashes.
    pub hash: HashAlg,
    /// Hash of the issuer's subject Name (DER).
    pub issuer_name_hash: Vec<u8>,
    /// Hash of the issuer's subjectPublicKey BIT STRING value.
    pub issuer_key_hash: Vec<u8>,
    /// The serial number: the INTEGER's content octets as sent (two's complement).
    pub serial: Vec<u8>,
}

impl CertId {
    /// The CertID of the certificate with `serial` (unsigned magnitude octets) issued by
    /// `issuer`.
    pub fn new(hash: HashAlg, issuer: &IssuerHashes, serial: &[u8]) -> CertId {
        let (name, key) = issuer.get(hash);
        CertId {
            hash,
            issuer_name_hash: name.to_vec(),
            issuer_key_hash: key.to_vec(),
            serial: derw::uint_content(serial),
        }
    }

    /// The serial as lowercase hex of its unsigned magnitude (the store's `serial_hex`),
    /// or `None` for a negative or zero serial, which this CA never issues.
    pub fn serial_hex(&self) -> Option<String> {
        let first = *self.serial.first()?;
        if first & 0x80 != 0 {
            return None;
        }
        let i = self.serial.iter().position(|b| *b != 0)?;
        self.serial.get(i..).map(hex::encode)
    }

    fn to_der(&self) -> Vec<u8> {
        derw::seq(&[
            &self.hash.algorithm_identifier(),
            &derw::octets(&self.issuer_name_hash),
            &derw::octets(&self.issuer_key_hash),
            &derw::tlv(tag::INTEGER, &self.serial),
        ])
    }
}

/// An issuer's name and key hashes under both algorithms, computed once per CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerHashes {
    sha1: (Vec<u8>, Vec<u8>),
    sha256: (Vec<u8>, Vec<u8>),
}

impl IssuerHashes {
    /// From the issuer's certificate (DER).
    pub fn from_cert(issuer_cert_der: &[u8]) -> Result<IssuerHashes, PkiError> {
        let c = parse::cert(issuer_cert_der)?;
        let key = crate::csr::subject_public_key(c.tbs.spki)
            .map_err(|_| PkiError::BadInput("the issuer's certificate has no public key".into()))?;
        let pair = |h: HashAlg| (h.digest(c.tbs.subject), h.digest(key));
        Ok(IssuerHashes {
            sha1: pair(HashAlg::Sha1),
            sha256: pair(HashAlg::Sha256),
        })
    }

    /// (name hash, key hash) under `h`.
    pub fn get(&self, h: HashAlg) -> (&[u8], &[u8]) {
        let p = match h {
            HashAlg::Sha1 => &self.sha1,
            HashAlg::Sha256 => &self.sha256,
        };
        (&p.0, &p.1)
    }

    /// Whether a request's CertID names this issuer.
    pub fn matches(&self, id: &CertId) -> bool {
        let (n, k) = self.get(id.hash);
        n == id.issuer_name_hash.as_slice() && k == id.issuer_key_hash.as_slice()
    }
}

/// Why a request was refused; each maps to `malformedRequest` (RFC 6960 §2.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Not DER, or not the OCSPRequest structure.
    #[error("malformed OCSP request: {0}")]
    Malformed(String),
    /// A CertID hash algorithm other than SHA-1 and SHA-256.
    #[error("unsupported CertID hash algorithm {0}")]
    UnsupportedHash(String),
    /// More than one (or no) request in the requestList: this responder answers one
    /// certificate per request, as Boulder does.
    #[error("the requestList holds {0} requests; exactly one is answered per request")]
    RequestCount(usize),
    /// Larger than [`MAX_REQUEST_LEN`].
    #[error("the request is larger than {MAX_REQUEST_LEN} octets")]
    TooLarge,
}

/// A parsed request: the one CertID, and whether the client sent a nonce (which a
/// pre-signed responder ignores, RFC 8954 §2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcspRequest {
    /// The certificate asked about.
    pub cert_id: CertId,
    /// A nonce extension was present (in requestExtensions or a singleRequestExtensions).
    pub has_nonce: bool,
    /// The extnValue of requestExtensions' nonce, as sent (for a responder that echoes
    /// it: [`OcspRequest::nonce`] checks it).
    pub nonce_ext_value: Option<Vec<u8>>,
    /// The request carried an optionalSignature (not checked: any client may ask).
    pub signed: bool,
}

fn malformed(what: impl Into<String>) -> RequestError {
    RequestError::Malformed(what.into())
}

fn read_all(content: &[u8]) -> Result<Vec<Tlv<'_>>, RequestError> {
    derr::children(content).map_err(|e| malformed(e.to_string()))
}

/// Reads an OCSPRequest (RFC 6960 §4.1.1). Hostile input: never panics, bounded work.
pub fn parse_request(der: &[u8]) -> Result<OcspRequest, RequestError> {
    if der.len() > MAX_REQUEST_LEN {
        return Err(RequestError::TooLarge);
    }
    let top = derr::read_one(der, tag::SEQUENCE).map_err(|e| malformed(e.to_string()))?;
    let parts = read_all(top.content)?;
    let (tbs, rest) = parts
        .split_first()
        .ok_or_else(|| malformed("empty OCSPRequest"))?;
    if tbs.tag != tag::SEQUENCE {
        return Err(malformed("tbsRequest is not a SEQUENCE"));
    }
    let signed = match rest {
        [] => false,
        [sig] if sig.tag == 0xa0 => true,
        _ => return Err(malformed("unexpected fields after tbsRequest")),
    };
    let mut fields = read_all(tbs.content)?.into_iter().peekable();
    if let Some(v) = fields.next_if(|t| t.tag == 0xa0) {
        // version [0] EXPLICIT INTEGER: only v1 (0) exists.
        let n = derr::read_one(v.content, tag::INTEGER).map_err(|e| malformed(e.to_string()))?;
        if n.content != [0] {
            return Err(malformed("unknown OCSP request version"));
        }
    }
    let _requestor = fields.next_if(|t| t.tag == 0xa1);
    let list = fields
        .next()
        .filter(|t| t.tag == tag::SEQUENCE)
        .ok_or_else(|| malformed("requestList missing"))?;
    let mut has_nonce = false;
    let mut nonce_ext_value = None;
    if let Some(exts) = fields.next_if(|t| t.tag == 0xa2) {
        nonce_ext_value = find_extension(exts.content, OCSP_NONCE)?;
        has_nonce |= nonce_ext_value.is_some();
    }
    if fields.next().is_some() {
        return Err(malformed("unexpected fields in tbsRequest"));
    }
    let requests = read_all(list.content)?;
    let [request] = requests.as_slice() else {
        return Err(RequestError::RequestCount(requests.len()));
    };
    if request.tag != tag::SEQUENCE {
        return Err(malformed("Request is not a SEQUENCE"));
    }
    let rparts = read_all(request.content)?;
    let (cert_id, rrest) = rparts
        .split_first()
        .ok_or_else(|| malformed("empty Request"))?;
    match rrest {
        [] => {}
        [exts] if exts.tag == 0xa0 => has_nonce |= has_extension(exts.content, OCSP_NONCE)?,
        _ => return Err(malformed("unexpected fields in Request")),
    }
    Ok(OcspRequest {
        cert_id: parse_cert_id(cert_id)?,
        has_nonce,
        nonce_ext_value,
        signed,
    })
}

/// The longest nonce echoed (RFC 8954 §2.1: 1 to 32 octets).
pub const MAX_NONCE_LEN: usize = 32;

impl OcspRequest {
    /// The request's nonce (requestExtensions, RFC 8954 §2.1), checked for a responder
    /// that echoes it: `Ok(None)` without one; `Ok(Some(extnValue))` — the extension value
    /// to echo, an OCTET STRING of 1 to [`MAX_NONCE_LEN`] octets; otherwise an error
    /// (`malformedRequest`).
    pub fn nonce(&self) -> Result<Option<&[u8]>, RequestError> {
        let Some(v) = &self.nonce_ext_value else {
            return Ok(None);
        };
        let n = derr::read_one(v, tag::OCTET_STRING)
            .map_err(|_| malformed("the nonce is not an OCTET STRING (RFC 8954)"))?;
        if n.content.is_empty() || n.content.len() > MAX_NONCE_LEN {
            return Err(malformed(format!(
                "the nonce has {} octets; RFC 8954 allows 1 to {MAX_NONCE_LEN}",
                n.content.len()
            )));
        }
        Ok(Some(v))
    }
}

/// Whether `[n] EXPLICIT Extensions` content holds `wanted`; checks the structure.
fn has_extension(explicit_content: &[u8], wanted: &str) -> Result<bool, RequestError> {
    Ok(find_extension(explicit_content, wanted)?.is_some())
}

/// The extnValue of `wanted` in `[n] EXPLICIT Extensions` content; checks the structure.
fn find_extension(explicit_content: &[u8], wanted: &str) -> Result<Option<Vec<u8>>, RequestError> {
    let exts =
        derr::read_one(explicit_content, tag::SEQUENCE).map_err(|e| malformed(e.to_string()))?;
    let mut found = None;
    for e in read_all(exts.content)? {
        let ext = parse::extension(e).map_err(|e| malformed(e.to_string()))?;
        if ext.oid == wanted {
            if found.is_some() {
                return Err(malformed(format!("extension {wanted} appears twice")));
            }
            found = Some(ext.value.to_vec());
        }
    }
    Ok(found)
}

fn parse_cert_id(t: &Tlv<'_>) -> Result<CertId, RequestError> {
    if t.tag != tag::SEQUENCE {
        return Err(malformed("CertID is not a SEQUENCE"));
    }
    let [alg, name, key, serial] =
        derr::children_n::<4>(t.content, "CertID").map_err(|e| malformed(e.to_string()))?;
    if alg.tag != tag::SEQUENCE
        || name.tag != tag::OCTET_STRING
        || key.tag != tag::OCTET_STRING
        || serial.tag != tag::INTEGER
    {
        return Err(malformed("CertID fields have the wrong types"));
    }
    let alg_parts = read_all(alg.content)?;
    let (alg_oid, params) = alg_parts
        .split_first()
        .ok_or_else(|| malformed("empty AlgorithmIdentifier"))?;
    if alg_oid.tag != tag::OID {
        return Err(malformed("AlgorithmIdentifier without an OID"));
    }
    match params {
        [] => {}
        [p] if p.tag == tag::NULL && p.content.is_empty() => {}
        _ => {
            return Err(malformed(
                "hash AlgorithmIdentifier parameters must be absent or NULL",
            ));
        }
    }
    let dotted = derr::oid_to_string(alg_oid.content).map_err(|e| malformed(e.to_string()))?;
    let hash = if dotted == SHA1 {
        HashAlg::Sha1
    } else if dotted == oid::SHA256.to_string() {
        HashAlg::Sha256
    } else {
        return Err(RequestError::UnsupportedHash(dotted));
    };
    if name.content.len() != hash.digest_len() || key.content.len() != hash.digest_len() {
        return Err(malformed(
            "issuer hash lengths do not match the hash algorithm",
        ));
    }
    if serial.content.is_empty()
        || serial.content.len() > 21
        || (serial.content.len() > 1
            && matches!(
                (serial.content.first(), serial.content.get(1)),
                (Some(0), Some(b)) if b & 0x80 == 0
            ))
    {
        return Err(malformed(
            "the serial number is not a minimal INTEGER of at most 20 octets",
        ));
    }
    Ok(CertId {
        hash,
        issuer_name_hash: name.content.to_vec(),
        issuer_key_hash: key.content.to_vec(),
        serial: serial.content.to_vec(),
    })
}

/// OCSPResponseStatus (RFC 6960 §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseStatus {
    /// successful (0): responseBytes follow.
    Successful,
    /// malformedRequest (1).
    MalformedRequest,
    /// internalError (2).
    InternalError,
    /// tryLater (3).
    TryLater,
    /// sigRequired (5).
    SigRequired,
    /// unauthorized (6): this responder cannot answer for that certificate (a foreign
    /// issuer, or a serial this CA never issued, RFC 5019 §2.2.3).
    Unauthorized,
}

impl ResponseStatus {
    /// The ENUMERATED value.
    pub fn code(self) -> u8 {
        match self {
            Self::Successful => 0,
            Self::MalformedRequest => 1,
            Self::InternalError => 2,
            Self::TryLater => 3,
            Self::SigRequired => 5,
            Self::Unauthorized => 6,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            0 => Self::Successful,
            1 => Self::MalformedRequest,
            2 => Self::InternalError,
            3 => Self::TryLater,
            5 => Self::SigRequired,
            6 => Self::Unauthorized,
            _ => return None,
        })
    }
}

/// An unsigned error response: `OCSPResponse { responseStatus }` with no responseBytes.
/// Panics never; `Successful` makes no sense here and is answered as `internalError`.
pub fn unsigned(status: ResponseStatus) -> Vec<u8> {
    let status = if status == ResponseStatus::Successful {
        ResponseStatus::InternalError
    } else {
        status
    };
    derw::seq(&[&derw::tlv(tag::ENUMERATED, &[status.code()])])
}

/// A certificate's status as an OCSP response states it (RFC 6960 §2.2). A certificate
/// on hold is `revoked` with reason certificateHold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertStatus {
    /// Not revoked (and issued by this CA).
    Good,
    /// Revoked, or on hold.
    Revoked {
        /// revocationTime.
        at: OffsetDateTime,
        /// The reason; always stated (this CA never revokes with `unspecified`).
        reason: RevocationReason,
    },
}

/// The delegated responder: the OCSP signer's key and certificate (DESIGN §4: EKU
/// OCSPSigning only, ocsp-nocheck, issued by the CA it answers for).
pub struct Responder<'a> {
    signer: &'a dyn Signer,
    cert_der: &'a [u8],
    key_hash: Vec<u8>,
    issuer_name_der: Vec<u8>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl std::fmt::Debug for Responder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("key_hash", &hex::encode(&self.key_hash))
            .field("not_after", &self.not_after)
            .finish()
    }
}

impl<'a> Responder<'a> {
    /// Checks that `cert_der` is an OCSP signer's certificate for `signer`'s key.
    pub fn new(signer: &'a dyn Signer, cert_der: &'a [u8]) -> Result<Responder<'a>, PkiError> {
        let c = parse::cert(cert_der)?;
        if c.tbs.spki != signer.spki_der() {
            return Err(fail(
                "e_ocsp_signer_key_matches_certificate",
                "the OCSP signer's certificate does not certify the signing key",
            ));
        }
        let eku = c
            .tbs
            .ext(&oid::EXT_EXT_KEY_USAGE)
            .map(|e| e.value)
            .ok_or_else(|| {
                fail(
                    "e_ocsp_signer_has_ocsp_signing_eku",
                    "the OCSP signer's certificate has no extKeyUsage",
                )
            })?;
        let eku = derr::read_one(eku, tag::SEQUENCE)?;
        let purposes = derr::children(eku.content)?
            .iter()
            .map(|t| derr::oid_to_string(t.content))
            .collect::<Result<Vec<_>, _>>()?;
        if purposes != [oid::KP_OCSP_SIGNING.to_string()] {
            return Err(fail(
                "e_ocsp_signer_has_ocsp_signing_eku",
                "the OCSP signer's extKeyUsage must be id-kp-OCSPSigning alone",
            ));
        }
        let key = crate::csr::subject_public_key(c.tbs.spki)
            .map_err(|_| PkiError::BadInput("the OCSP signer's certificate has no key".into()))?;
        Ok(Responder {
            signer,
            cert_der,
            key_hash: HashAlg::Sha1.digest(key),
            issuer_name_der: c.tbs.issuer.to_vec(),
            not_before: c.tbs.not_before.at,
            not_after: c.tbs.not_after.at,
        })
    }

    /// The signer certificate's notAfter: no response may reach past it.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }
}

/// One response to build: a certificate's status over a validity interval.
#[derive(Clone, Debug)]
pub struct ResponseParams {
    /// The CertID answered (ours, for a pre-signed response).
    pub cert_id: CertId,
    /// The status.
    pub status: CertStatus,
    /// producedAt.
    pub produced_at: OffsetDateTime,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: OffsetDateTime,
    /// The request's nonce extnValue to echo in responseExtensions (RFC 8954; a live
    /// response only: pre-signed ones carry none).
    pub nonce: Option<Vec<u8>>,
}

/// An `OCSPRequest` for one CertID with a nonce extension whose extnValue is
/// `nonce_ext_value` (for tests and fuzzing).
pub fn request_der_with_nonce(id: &CertId, nonce_ext_value: &[u8]) -> Vec<u8> {
    let ext = derw::seq(&[&oid_der(OCSP_NONCE), &derw::octets(nonce_ext_value)]);
    derw::seq(&[&derw::seq(&[
        &derw::seq(&[&derw::seq(&[&id.to_der()])]),
        &derw::explicit(2, &derw::seq(&[&ext])),
    ])])
}

/// An `OCSPRequest` for one CertID, unsigned, without a nonce (what a relying party sends;
/// for tests, the benchmark and kmn-verify).
pub fn request_der(id: &CertId) -> Vec<u8> {
    derw::seq(&[&derw::seq(&[&derw::seq(&[&derw::seq(&[&id.to_der()])])])])
}

/// A ResponseData that passed the lints: the only thing [`LintedResponse::sign`] takes.
#[derive(Debug)]
pub struct LintedResponse {
    tbs: Vec<u8>,
}

impl LintedResponse {
    /// The exact ResponseData octets that will be signed.
    pub fn tbs(&self) -> &[u8] {
        &self.tbs
    }

    /// Signs with the responder's key and assembles the `OCSPResponse`.
    pub fn sign(self, r: &Responder<'_>) -> Result<Vec<u8>, PkiError> {
        let sig = r.signer.sign(&self.tbs)?;
        let basic = derw::seq(&[
            &self.tbs,
            &r.signer.signature_algorithm().algorithm_identifier(),
            &derw::bits(&sig),
            &derw::explicit(0, &derw::seq(&[r.cert_der])),
        ]);
        let bytes = derw::seq(&[&oid_der(OCSP_BASIC), &derw::octets(&basic)]);
        Ok(derw::seq(&[
            &derw::tlv(tag::ENUMERATED, &[ResponseStatus::Successful.code()]),
            &derw::explicit(0, &bytes),
        ]))
    }
}

fn fail(rule: &'static str, detail: impl Into<String>) -> PkiError {
    PkiError::Lint(LintFailure {
        rule,
        detail: detail.into(),
    })
}

/// Lints one response before it is signed (the rules are named like the certificate
/// lints; each failure names its rule).
pub fn lint(p: &ResponseParams, r: &Responder<'_>, issuer: &IssuerHashes) -> Result<(), PkiError> {
    if !issuer.matches(&p.cert_id) {
        return Err(fail(
            "e_ocsp_cert_id_names_the_issuer",
            "the CertID's issuer hashes are not those of the issuing CA",
        ));
    }
    if p.cert_id.serial_hex().is_none() {
        return Err(fail(
            "e_ocsp_serial_positive",
            "the CertID's serial is not a positive INTEGER",
        ));
    }
    if p.next_update <= p.this_update {
        return Err(fail(
            "e_ocsp_next_update_after_this_update",
            "nextUpdate must be after thisUpdate",
        ));
    }
    if p.this_update > p.produced_at {
        return Err(fail(
            "e_ocsp_this_update_not_after_produced_at",
            "thisUpdate is later than producedAt",
        ));
    }
    if p.produced_at < r.not_before || p.this_update < r.not_before {
        return Err(fail(
            "e_ocsp_within_signer_validity",
            "the response starts before its signer's certificate is valid",
        ));
    }
    if p.next_update > r.not_after {
        return Err(fail(
            "e_ocsp_within_signer_validity",
            format!(
                "nextUpdate {} reaches past the OCSP signer's notAfter {}: rotate the signer first",
                p.next_update, r.not_after
            ),
        ));
    }
    if let CertStatus::Revoked { at, reason } = p.status {
        if at > p.this_update {
            return Err(fail(
                "e_ocsp_revocation_time_not_after_this_update",
                "revocationTime is later than thisUpdate",
            ));
        }
        if reason == RevocationReason::CaCompromise {
            return Err(fail(
                "e_ocsp_no_ca_compromise_for_end_entities",
                "cACompromise is a reason for CA certificates on the ARL only",
            ));
        }
    }
    if let Some(n) = &p.nonce {
        let ok = derr::read_one(n, tag::OCTET_STRING)
            .is_ok_and(|o| (1..=MAX_NONCE_LEN).contains(&o.content.len()));
        if !ok {
            return Err(fail(
                "e_ocsp_nonce_rfc8954",
                "the nonce must be an OCTET STRING of 1 to 32 octets (RFC 8954)",
            ));
        }
    }
    let name_hash = p.cert_id.hash.digest(&r.issuer_name_der);
    if name_hash != p.cert_id.issuer_name_hash {
        return Err(fail(
            "e_ocsp_signer_issued_by_the_ca",
            "the OCSP signer was not issued by the CA the response answers for",
        ));
    }
    Ok(())
}

/// Builds and lints one response's ResponseData.
pub fn prepare(
    p: &ResponseParams,
    r: &Responder<'_>,
    issuer: &IssuerHashes,
) -> Result<LintedResponse, PkiError> {
    lint(p, r, issuer)?;
    let status = match p.status {
        CertStatus::Good => derw::implicit_prim(0, &[]),
        CertStatus::Revoked { at, reason } => derw::implicit_cons(
            1,
            &[
                derw::generalized_time(at),
                derw::explicit(0, &derw::tlv(tag::ENUMERATED, &[reason.code()])),
            ]
            .concat(),
        ),
    };
    let single = derw::seq(&[
        &p.cert_id.to_der(),
        &status,
        &derw::generalized_time(p.this_update),
        &derw::explicit(0, &derw::generalized_time(p.next_update)),
    ]);
    // responseExtensions [1]: the echoed nonce only (RFC 8954 §2.1).
    let extensions = p.nonce.as_ref().map(|n| {
        derw::explicit(
            1,
            &derw::seq(&[&derw::seq(&[&oid_der(OCSP_NONCE), &derw::octets(n)])]),
        )
    });
    let tbs = derw::seq(&[
        // responderID byKey [2] EXPLICIT KeyHash (RFC 6960 §4.2.1, §4.2.2.3).
        &derw::explicit(2, &derw::octets(&r.key_hash)),
        &derw::generalized_time(p.produced_at),
        &derw::seq(&[&single]),
        extensions.as_deref().unwrap_or_default(),
    ]);
    Ok(LintedResponse { tbs })
}

/// A response read back (for the evidence of 第23条3, tests and fuzzing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedResponse {
    /// responseStatus.
    pub status: ResponseStatus,
    /// For a successful response: the single response.
    pub single: Option<ParsedSingle>,
}

/// The one SingleResponse of a successful response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedSingle {
    /// certID.
    pub cert_id: CertId,
    /// The status (unknown is reported as `None`).
    pub status: Option<CertStatus>,
    /// producedAt.
    pub produced_at: OffsetDateTime,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: Option<OffsetDateTime>,
    /// The exact ResponseData octets (what the signature covers).
    pub tbs: Vec<u8>,
    /// The signature value.
    pub signature: Vec<u8>,
    /// The signatureAlgorithm (AlgorithmIdentifier DER).
    pub signature_algorithm: Vec<u8>,
}

fn gen_time(t: &Tlv<'_>) -> Result<OffsetDateTime, PkiError> {
    if t.tag != tag::GENERALIZED_TIME {
        return Err(PkiError::BadInput(
            "OCSP times must be GeneralizedTime".into(),
        ));
    }
    Ok(parse::time_field(t)?.at)
}

/// Reads an OCSPResponse with at most one SingleResponse (what this responder makes).
/// The signature is returned, not verified.
pub fn parse_response(der: &[u8]) -> Result<ParsedResponse, PkiError> {
    let bad = |w: &str| PkiError::BadInput(format!("malformed OCSP response: {w}"));
    let top = derr::read_one(der, tag::SEQUENCE)?;
    let parts = derr::children(top.content)?;
    let (st, rest) = parts.split_first().ok_or_else(|| bad("empty"))?;
    let code = match (st.tag, st.content) {
        (tag::ENUMERATED, [c]) => *c,
        _ => return Err(bad("responseStatus")),
    };
    let status = ResponseStatus::from_code(code).ok_or_else(|| bad("unknown responseStatus"))?;
    let bytes = match (status, rest) {
        (ResponseStatus::Successful, [b]) if b.tag == 0xa0 => b,
        (ResponseStatus::Successful, _) => return Err(bad("successful without responseBytes")),
        (_, []) => {
            return Ok(ParsedResponse {
                status,
                single: None,
            });
        }
        _ => return Err(bad("an error status with responseBytes")),
    };
    let rb = derr::read_one(bytes.content, tag::SEQUENCE)?;
    let [rtype, resp] = derr::children_n::<2>(rb.content, "ResponseBytes")?;
    if rtype.tag != tag::OID || derr::oid_to_string(rtype.content)? != OCSP_BASIC {
        return Err(bad("responseType is not id-pkix-ocsp-basic"));
    }
    if resp.tag != tag::OCTET_STRING {
        return Err(bad("response is not an OCTET STRING"));
    }
    let basic = derr::read_one(resp.content, tag::SEQUENCE)?;
    let bparts = derr::children(basic.content)?;
    let (tbs, alg, sig) = match bparts.as_slice() {
        [tbs, alg, sig] | [tbs, alg, sig, _] => (tbs, alg, sig),
        _ => return Err(bad("BasicOCSPResponse")),
    };
    if tbs.tag != tag::SEQUENCE || sig.tag != tag::BIT_STRING {
        return Err(bad("BasicOCSPResponse fields"));
    }
    let mut f = derr::children(tbs.content)?.into_iter().peekable();
    if let Some(v) = f.next_if(|t| t.tag == 0xa0)
        && derr::read_one(v.content, tag::INTEGER)?.content != [0]
    {
        return Err(bad("version"));
    }
    let _responder = f
        .next()
        .filter(|t| t.tag == 0xa1 || t.tag == 0xa2)
        .ok_or_else(|| bad("responderID"))?;
    let produced_at = gen_time(&f.next().ok_or_else(|| bad("producedAt"))?)?;
    let responses = f
        .next()
        .filter(|t| t.tag == tag::SEQUENCE)
        .ok_or_else(|| bad("responses"))?;
    let singles = derr::children(responses.content)?;
    let [single] = singles.as_slice() else {
        return Err(bad("exactly one SingleResponse expected"));
    };
    let sparts = derr::children(single.content)?;
    let (cid, srest) = sparts.split_first().ok_or_else(|| bad("SingleResponse"))?;
    let cert_id = parse_cert_id(cid).map_err(|e| bad(&e.to_string()))?;
    let (cs, srest) = srest.split_first().ok_or_else(|| bad("certStatus"))?;
    let status_v = match cs.tag {
        0x80 if cs.content.is_empty() => Some(CertStatus::Good),
        0xa1 => {
            let ri = derr::children(cs.content)?;
            let (t, r) = ri.split_first().ok_or_else(|| bad("RevokedInfo"))?;
            let at = gen_time(t)?;
            let reason = match r {
                [] => RevocationReason::KeyCompromise,
                [x] if x.tag == 0xa0 => {
                    let e = derr::read_one(x.content, tag::ENUMERATED)?;
                    match e.content {
                        [c] => RevocationReason::from_code(*c).ok_or_else(|| bad("reason"))?,
                        _ => return Err(bad("reason")),
                    }
                }
                _ => return Err(bad("RevokedInfo")),
            };
            Some(CertStatus::Revoked { at, reason })
        }
        0x82 => None,
        _ => return Err(bad("certStatus")),
    };
    let (tu, srest) = srest.split_first().ok_or_else(|| bad("thisUpdate"))?;
    let this_update = gen_time(tu)?;
    let next_update = match srest.first() {
        Some(n) if n.tag == 0xa0 => Some(gen_time(&derr::read_one(
            n.content,
            tag::GENERALIZED_TIME,
        )?)?),
        _ => None,
    };
    let signature = sig.content.get(1..).unwrap_or_default().to_vec();
    Ok(ParsedResponse {
        status,
        single: Some(ParsedSingle {
            cert_id,
            status: status_v,
            produced_at,
            this_update,
            next_update,
            tbs: tbs.raw.to_vec(),
            signature,
            signature_algorithm: alg.raw.to_vec(),
        }),
    })
}

/// Reads back a stored response (the evidence of 第23条3): successful, with its
/// signature verified against the signer's key `signer_spki` (SubjectPublicKeyInfo DER).
pub fn read_back(der: &[u8], signer_spki: &[u8]) -> Result<ParsedSingle, PkiError> {
    let r = parse_response(der)?;
    let single = match (r.status, r.single) {
        (ResponseStatus::Successful, Some(s)) => s,
        _ => {
            return Err(PkiError::BadInput(
                "the OCSP response read back is not a successful one".into(),
            ));
        }
    };
    crate::csr::verify_signature(
        signer_spki,
        &single.signature_algorithm,
        &single.tbs,
        &single.signature,
    )
    .map_err(|_| {
        PkiError::BadInput(
            "the OCSP response read back does not verify with its signer's key".into(),
        )
    })?;
    Ok(single)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use kmn_domain::{CertSerial, ProfileKind, RevocationReason};
    use time::Duration;

    use super::*;
    use crate::cert::{self, CertTemplate, IssuerInfo, Urls};
    use crate::keys::{KeyAlgorithm, SoftwareKey};
    use crate::name::DistinguishedName;

    struct Chain {
        ca_key: SoftwareKey,
        ca: Vec<u8>,
        signer_key: SoftwareKey,
        signer: Vec<u8>,
        leaf: Vec<u8>,
        leaf_serial: Vec<u8>,
        other_ca: Vec<u8>,
    }

    /// Now, to the second: openssl checks the responses against the real clock.
    fn now() -> OffsetDateTime {
        let t = OffsetDateTime::now_utc();
        t.replace_nanosecond(0).unwrap()
    }

    fn signer_not_after() -> OffsetDateTime {
        let t = now() + Duration::days(90);
        t.replace_time(time::Time::MIDNIGHT)
    }

    fn dn(cn: &str) -> DistinguishedName {
        let mut d = DistinguishedName::default();
        d.push(oid::AT_COUNTRY, "JP").unwrap();
        d.push(oid::AT_ORGANIZATION, "Kumamoto Medical Association")
            .unwrap();
        d.push(oid::AT_COMMON_NAME, cn).unwrap();
        d
    }

    fn issue(
        profile: ProfileKind,
        subject: DistinguishedName,
        spki: &[u8],
        serial: u8,
        issuer: &IssuerInfo,
        key: &SoftwareKey,
        not_after: OffsetDateTime,
    ) -> Vec<u8> {
        let mut s = [0u8; 16];
        s[0] = 0x40;
        s[15] = serial;
        let t = CertTemplate {
            profile,
            serial: CertSerial::from_random(s).unwrap(),
            subject,
            spki_der: spki.to_vec(),
            not_before: now() - Duration::days(1),
            not_after,
            policies: vec![],
            urls: Urls::default(),
            alt_names: vec![],
            hc_role: None,
        };
        let tbs = cert::build_tbs(&t, issuer).unwrap();
        let sig = key.sign(&tbs).unwrap();
        cert::assemble(&tbs, key.signature_algorithm(), &sig)
    }

    fn self_signed(key: &SoftwareKey, cn: &str) -> Vec<u8> {
        let subject = dn(cn);
        let info = IssuerInfo {
            subject_der: subject.to_der(),
            key_id: crate::ext::key_identifier(key.spki_der()).unwrap(),
            spki_der: key.spki_der().to_vec(),
            not_before: now() - Duration::days(1),
            not_after: now() + Duration::days(3650),
            signature_algorithm: key.signature_algorithm(),
        };
        issue(
            ProfileKind::Root,
            subject,
            key.spki_der(),
            1,
            &info,
            key,
            now() + Duration::days(3650),
        )
    }

    fn chain() -> Chain {
        let (ca_key, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let ca = self_signed(&ca_key, "Test Issuing CA");
        let info = IssuerInfo::from_cert(&ca, ca_key.signature_algorithm()).unwrap();
        let (signer_key, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let signer = issue(
            ProfileKind::OcspSigner,
            dn("Test OCSP Signer"),
            signer_key.spki_der(),
            2,
            &info,
            &ca_key,
            signer_not_after(),
        );
        let (leaf_key, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let leaf = issue(
            ProfileKind::Operator,
            dn("Test Operator"),
            leaf_key.spki_der(),
            3,
            &info,
            &ca_key,
            now() + Duration::days(1000),
        );
        let leaf_serial = parse::cert(&leaf).unwrap().tbs.serial.to_vec();
        let (other_key, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let other_ca = self_signed(&other_key, "Another CA");
        Chain {
            ca_key,
            ca,
            signer_key,
            signer,
            leaf,
            leaf_serial,
            other_ca,
        }
    }

    fn params(c: &Chain, hash: HashAlg, status: CertStatus) -> ResponseParams {
        let issuer = IssuerHashes::from_cert(&c.ca).unwrap();
        let now = now();
        ResponseParams {
            cert_id: CertId::new(hash, &issuer, &c.leaf_serial),
            status,
            produced_at: now,
            this_update: now,
            next_update: now + Duration::days(4),
            nonce: None,
        }
    }

    fn respond(c: &Chain, p: &ResponseParams) -> Result<Vec<u8>, PkiError> {
        let issuer = IssuerHashes::from_cert(&c.ca).unwrap();
        let r = Responder::new(&c.signer_key, &c.signer)?;
        prepare(p, &r, &issuer)?.sign(&r)
    }

    fn rule(r: Result<Vec<u8>, PkiError>) -> &'static str {
        match r {
            Err(PkiError::Lint(l)) => l.rule,
            other => panic!("expected a lint failure, got {other:?}"),
        }
    }

    fn write_pem(dir: &Path, name: &str, der: &[u8]) -> String {
        let p = dir.join(name);
        std::fs::write(&p, cert::to_pem(der)).unwrap();
        p.display().to_string()
    }

    fn openssl(args: &[&str]) -> (bool, String) {
        let o = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    }

    /// openssl's own request for the leaf, as a relying party would send it.
    fn openssl_request(c: &Chain, dir: &Path, extra: &[&str]) -> Vec<u8> {
        let ca = write_pem(dir, "ca.pem", &c.ca);
        let leaf = write_pem(dir, "leaf.pem", &c.leaf);
        let req = dir.join("req.der");
        let req_s = req.display().to_string();
        // openssl wants the digest before -cert.
        let mut args = vec!["ocsp", "-issuer", &ca];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-cert", &leaf, "-reqout", &req_s]);
        let (ok, out) = openssl(&args);
        assert!(ok, "{out}");
        std::fs::read(req).unwrap()
    }

    #[test]
    fn rfc6960_4_1_reads_openssl_requests_sha1_sha256_with_and_without_nonce() {
        let c = chain();
        let dir = tempfile::tempdir().unwrap();
        let issuer = IssuerHashes::from_cert(&c.ca).unwrap();
        for (extra, hash, nonce) in [
            (&["-no_nonce"][..], HashAlg::Sha1, false),
            (&[][..], HashAlg::Sha1, true),
            (&["-no_nonce", "-sha256"][..], HashAlg::Sha256, false),
            (&["-sha256"][..], HashAlg::Sha256, true),
        ] {
            let req = parse_request(&openssl_request(&c, dir.path(), extra)).unwrap();
            assert_eq!(req.cert_id.hash, hash, "{extra:?}");
            assert_eq!(req.has_nonce, nonce, "{extra:?}");
            assert!(issuer.matches(&req.cert_id));
            assert_eq!(
                req.cert_id.serial_hex().unwrap(),
                hex::encode(&c.leaf_serial[usize::from(c.leaf_serial[0] == 0)..])
            );
            assert_eq!(req.cert_id, CertId::new(hash, &issuer, &c.leaf_serial));
        }
    }

    /// RFC 8954 §2.1: a nonce is an OCTET STRING of 1 to 32 octets; openssl's (16 octets)
    /// is read as sent; other sizes and types are refused for a responder that echoes it;
    /// the echoed response verifies with openssl's nonce check.
    #[test]
    fn rfc8954_nonce_read_checked_and_echoed() {
        let c = chain();
        let dir = tempfile::tempdir().unwrap();
        let raw = openssl_request(&c, dir.path(), &[]);
        let req = parse_request(&raw).unwrap();
        let n = req.nonce().unwrap().expect("openssl sends a nonce");
        assert_eq!(n.len(), 18, "OCTET STRING of 16 octets");
        assert_eq!(
            parse_request(&openssl_request(&c, dir.path(), &["-no_nonce"]))
                .unwrap()
                .nonce(),
            Ok(None)
        );
        let id = req.cert_id.clone();
        for (ext, ok) in [
            (vec![0x04, 0x01, 0x00], true),
            ([&[0x04, 0x20][..], &[7; 32]].concat(), true),
            ([&[0x04, 0x21][..], &[7; 33]].concat(), false),
            (vec![0x04, 0x00], false),
            (vec![0x02, 0x01, 0x01], false),
            (vec![0x04, 0x05, 0x00], false),
        ] {
            let r = parse_request(&request_der_with_nonce(&id, &ext)).unwrap();
            assert!(r.has_nonce);
            assert_eq!(r.nonce().is_ok(), ok, "{ext:02x?}");
        }
        // Echoed in the response, which openssl checks against its request.
        let mut p = params(&c, HashAlg::Sha1, CertStatus::Good);
        p.nonce = Some(n.to_vec());
        let der = respond(&c, &p).unwrap();
        let resp = dir.path().join("resp.der");
        std::fs::write(&resp, &der).unwrap();
        let ca = write_pem(dir.path(), "ca.pem", &c.ca);
        // (-reqin without -cert: openssl checks the nonce of that request.)
        let reqf = dir.path().join("req-n.der");
        std::fs::write(&reqf, &raw).unwrap();
        let (ok, out) = openssl(&[
            "ocsp",
            "-reqin",
            &reqf.display().to_string(),
            "-respin",
            &resp.display().to_string(),
            "-CAfile",
            &ca,
        ]);
        assert!(
            ok && out.contains("Response verify OK") && !out.contains("WARNING"),
            "{out}"
        );
        // A nonce of 33 octets is never signed.
        p.nonce = Some([&[0x04, 0x21][..], &[7; 33]].concat());
        assert_eq!(rule(respond(&c, &p)), "e_ocsp_nonce_rfc8954");
    }

    #[test]
    fn rfc6960_responses_verify_with_openssl_good_revoked_and_on_hold() {
        let c = chain();
        let dir = tempfile::tempdir().unwrap();
        let ca = write_pem(dir.path(), "ca.pem", &c.ca);
        let leaf = write_pem(dir.path(), "leaf.pem", &c.leaf);
        let revoked_at = now() - Duration::seconds(30);
        for (hash, status, expect) in [
            (HashAlg::Sha1, CertStatus::Good, "leaf.pem: good"),
            (HashAlg::Sha256, CertStatus::Good, "leaf.pem: good"),
            (
                HashAlg::Sha256,
                CertStatus::Revoked {
                    at: revoked_at,
                    reason: RevocationReason::KeyCompromise,
                },
                "Reason: keyCompromise",
            ),
            (
                HashAlg::Sha1,
                CertStatus::Revoked {
                    at: revoked_at,
                    reason: RevocationReason::CertificateHold,
                },
                "Reason: certificateHold",
            ),
        ] {
            let der = respond(&c, &params(&c, hash, status)).unwrap();
            let resp = dir.path().join("resp.der");
            std::fs::write(&resp, &der).unwrap();
            let resp_s = resp.display().to_string();
            let mut args = vec!["ocsp", "-respin", &resp_s, "-issuer", &ca];
            if hash == HashAlg::Sha256 {
                args.push("-sha256");
            }
            args.extend_from_slice(&["-cert", &leaf, "-CAfile", &ca, "-no_nonce"]);
            let (ok, out) = openssl(&args);
            assert!(ok && out.contains("Response verify OK"), "{out}");
            assert!(out.contains(expect), "{expect}: {out}");
            let back = parse_response(&der).unwrap();
            assert_eq!(back.status, ResponseStatus::Successful);
            let s = back.single.unwrap();
            assert_eq!(s.status, Some(status));
            assert_eq!(s.cert_id.hash, hash);
            if let Some(venv) = std::env::var_os("KMN_VENV") {
                let bin = Path::new(&venv).join("bin/lint_ocsp_response");
                let o = Command::new(&bin)
                    .args(["lint", "-s", "ERROR", "--document-format", "DER", &resp_s])
                    .output()
                    .expect("pkilint's lint_ocsp_response");
                let out = String::from_utf8_lossy(&o.stdout).to_string()
                    + &String::from_utf8_lossy(&o.stderr);
                assert!(
                    o.status.success() && !out.contains("(ERROR)") && !out.contains("(FATAL)"),
                    "pkilint: {out}"
                );
            } else {
                assert!(
                    std::env::var("CI").is_err(),
                    "KMN_VENV (pkilint) is required in CI"
                );
            }
        }
    }

    #[test]
    fn rfc6960_no_response_outlives_its_signer() {
        let c = chain();
        let mut p = params(&c, HashAlg::Sha256, CertStatus::Good);
        p.next_update = signer_not_after() + Duration::seconds(1);
        assert_eq!(rule(respond(&c, &p)), "e_ocsp_within_signer_validity");
        p.next_update = signer_not_after();
        p.this_update = p.next_update - Duration::days(4);
        p.produced_at = p.this_update;
        respond(&c, &p).unwrap();
    }

    #[test]
    fn rfc6960_lints_refuse_inconsistent_responses() {
        let c = chain();
        let base = params(&c, HashAlg::Sha1, CertStatus::Good);
        let mut p = base.clone();
        p.next_update = p.this_update;
        assert_eq!(
            rule(respond(&c, &p)),
            "e_ocsp_next_update_after_this_update"
        );
        let mut p = base.clone();
        p.this_update = p.produced_at + Duration::seconds(1);
        p.next_update = p.this_update + Duration::days(1);
        assert_eq!(
            rule(respond(&c, &p)),
            "e_ocsp_this_update_not_after_produced_at"
        );
        let mut p = base.clone();
        p.status = CertStatus::Revoked {
            at: p.this_update + Duration::seconds(1),
            reason: RevocationReason::KeyCompromise,
        };
        assert_eq!(
            rule(respond(&c, &p)),
            "e_ocsp_revocation_time_not_after_this_update"
        );
        let mut p = base.clone();
        p.status = CertStatus::Revoked {
            at: p.this_update,
            reason: RevocationReason::CaCompromise,
        };
        assert_eq!(
            rule(respond(&c, &p)),
            "e_ocsp_no_ca_compromise_for_end_entities"
        );
        // A CertID for another CA's certificate is not ours to answer.
        let other = IssuerHashes::from_cert(&c.other_ca).unwrap();
        let mut p = base.clone();
        p.cert_id = CertId::new(HashAlg::Sha1, &other, &c.leaf_serial);
        assert_eq!(rule(respond(&c, &p)), "e_ocsp_cert_id_names_the_issuer");
        // A signer certificate without the OCSPSigning EKU, or for another key.
        assert_eq!(
            rule(Responder::new(&c.signer_key, &c.leaf).map(|_| vec![])),
            "e_ocsp_signer_key_matches_certificate"
        );
        assert_eq!(
            rule(Responder::new(&c.ca_key, &c.ca).map(|_| vec![])),
            "e_ocsp_signer_has_ocsp_signing_eku"
        );
    }

    #[test]
    fn rfc6960_4_2_1_unsigned_error_responses() {
        for s in [
            ResponseStatus::MalformedRequest,
            ResponseStatus::InternalError,
            ResponseStatus::TryLater,
            ResponseStatus::SigRequired,
            ResponseStatus::Unauthorized,
        ] {
            let der = unsigned(s);
            assert_eq!(der, [0x30, 0x03, 0x0a, 0x01, s.code()]);
            assert_eq!(
                parse_response(&der).unwrap(),
                ParsedResponse {
                    status: s,
                    single: None
                }
            );
        }
        assert_eq!(
            unsigned(ResponseStatus::Successful),
            unsigned(ResponseStatus::InternalError)
        );
    }

    fn request_with(list: &[Vec<u8>]) -> Vec<u8> {
        let refs: Vec<&[u8]> = list.iter().map(|v| v.as_slice()).collect();
        derw::seq(&[&derw::seq(&[&derw::seq(&refs)])])
    }

    #[test]
    fn rfc6960_hostile_requests_are_refused_never_panic() {
        let c = chain();
        let dir = tempfile::tempdir().unwrap();
        let good = openssl_request(&c, dir.path(), &[]);
        // Every truncation and every one-octet change: an answer, never a panic.
        for n in 0..good.len() {
            let _ = parse_request(&good[..n]);
        }
        for i in 0..good.len() {
            for x in [0x00, 0xff, 0x80, 0x01] {
                let mut v = good.clone();
                v[i] ^= x;
                let _ = parse_request(&v);
            }
        }
        assert!(matches!(
            parse_request(b""),
            Err(RequestError::Malformed(_))
        ));
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\r\n"),
            Err(RequestError::Malformed(_))
        ));
        let huge = vec![0x30; MAX_REQUEST_LEN + 1];
        assert_eq!(parse_request(&huge), Err(RequestError::TooLarge));
        // Several requests in one list, and none.
        let issuer = IssuerHashes::from_cert(&c.ca).unwrap();
        let one = derw::seq(&[&CertId::new(HashAlg::Sha1, &issuer, &[1]).to_der()]);
        assert_eq!(
            parse_request(&request_with(&[one.clone(), one.clone()])),
            Err(RequestError::RequestCount(2))
        );
        assert_eq!(
            parse_request(&request_with(&[])),
            Err(RequestError::RequestCount(0))
        );
        assert!(parse_request(&request_with(&[one])).is_ok());
        // An unsupported hash (MD5), and hash lengths that do not fit the algorithm.
        let md5 = derw::seq(&[&derw::seq(&[
            &derw::seq(&[&oid_der("1.2.840.113549.2.5"), &derw::null()]),
            &derw::octets(&[0; 16]),
            &derw::octets(&[0; 16]),
            &derw::uint(&[1]),
        ])]);
        assert_eq!(
            parse_request(&request_with(&[md5])),
            Err(RequestError::UnsupportedHash("1.2.840.113549.2.5".into()))
        );
        let short = derw::seq(&[&derw::seq(&[
            &HashAlg::Sha256.algorithm_identifier(),
            &derw::octets(&[0; 20]),
            &derw::octets(&[0; 32]),
            &derw::uint(&[1]),
        ])]);
        assert!(matches!(
            parse_request(&request_with(&[short])),
            Err(RequestError::Malformed(_))
        ));
        // A negative serial parses (it is an INTEGER) but names no certificate of ours.
        let neg = CertId {
            serial: vec![0x80],
            ..CertId::new(HashAlg::Sha1, &issuer, &[1])
        };
        assert_eq!(neg.serial_hex(), None);
    }
}
