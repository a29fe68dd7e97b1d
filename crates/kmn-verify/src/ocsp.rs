//! OCSP responses checked as a relying party (RFC 6960), issue #11 "revocation live".
//!
//! [`check_ocsp_response`] takes the DER bytes an OCSP responder answered, the certificate
//! asked about and its issuer, and says good / revoked / unknown — or why the response cannot
//! be used. Checked:
//!
//! * responseStatus `successful` and a `id-pkix-ocsp-basic` response;
//! * the BasicOCSPResponse signature, made by the responder named in responderID (byName or
//!   byKey), which is either the issuing CA itself or a delegated signer issued **directly**
//!   by it (its signature verified with the CA's key) whose extendedKeyUsage contains
//!   id-kp-OCSPSigning, whose keyUsage (when present) allows digitalSignature, and that is
//!   valid at the time of the check (RFC 6960 §4.2.2.2). The delegated signer's own revocation
//!   is not checked (RFC 6960 §4.2.2.2.1: our responder's signers carry id-pkix-ocsp-nocheck);
//! * signatures with SHA-2 (or Ed25519), RSA keys of 2048 bits or more, as in the kmn profile;
//! * a SingleResponse whose CertID matches the certificate: SHA-1 or SHA-256 hashes of the
//!   issuer's name and key, and the serial number;
//! * its thisUpdate not later than the check time plus [`OCSP_MAX_SKEW`], its nextUpdate
//!   present and not passed;
//! * no unknown critical extension in the response or the SingleResponse.
//!
//! Like the rest of the crate, the reader never panics on hostile bytes (fuzz target
//! `ocsp_response`).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use der::asn1::ObjectIdentifier as O;
use sha1::Digest as _;

use crate::asn1::{
    PResult, ParseError, Tlv, bit_string_bytes, fmt_time, oid_to_string, parse_generalized_time,
    parse_u32, single, tag,
};
use crate::cert::{AlgId, Cert, ku, oid};
use crate::crl::reason_name;
use crate::name::Name;
use crate::sig::{self, SigError};

const OCSP_BASIC: O = O::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const OCSP_NONCE: O = O::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const ID_SHA1: O = O::new_unwrap("1.3.14.3.2.26");
const ID_SHA256: O = O::new_unwrap("2.16.840.1.101.3.4.2.1");

/// The clock skew tolerated on a response's thisUpdate (and on a delegated signer's
/// notBefore): 5 minutes.
pub const OCSP_MAX_SKEW: Duration = Duration::from_secs(300);

/// The largest OCSP response read: a response with a delegated signer's certificate is a few
/// kilobytes.
pub const MAX_OCSP_RESPONSE_LEN: usize = 64 * 1024;

/// The hash a CertID uses (RFC 6960 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OcspHash {
    /// id-sha1: what most responders and clients still use.
    #[default]
    Sha1,
    /// id-sha256.
    Sha256,
}

impl OcspHash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            OcspHash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            OcspHash::Sha256 => sha2::Sha256::digest(data).to_vec(),
        }
    }

    fn oid(self) -> O {
        match self {
            OcspHash::Sha1 => ID_SHA1,
            OcspHash::Sha256 => ID_SHA256,
        }
    }
}

/// What the responder says about the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcspCertStatus {
    /// `good`.
    Good,
    /// `revoked`.
    Revoked {
        /// revocationTime, Unix seconds.
        time: i64,
        /// CRLReason name (RFC 5280 §5.3.1); `None` when the response carries no reason.
        reason: Option<&'static str>,
    },
    /// `unknown`: the responder does not know the certificate (fail closed).
    Unknown,
}

/// A response that passed every check of [`check_ocsp_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspResult {
    pub status: OcspCertStatus,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds (always present: a response without one is refused).
    pub next_update: i64,
    /// producedAt, Unix seconds.
    pub produced_at: i64,
    /// The subject of the certificate that signed the response (the CA or its delegated
    /// signer), RFC 4514 style.
    pub signer: String,
    /// Whether a delegated signer (not the CA itself) signed it.
    pub delegated: bool,
}

impl OcspResult {
    /// One line for logs: `good (thisUpdate …, nextUpdate …, signed by '…')`.
    pub fn describe(&self) -> String {
        let status = match &self.status {
            OcspCertStatus::Good => "good".to_string(),
            OcspCertStatus::Revoked { time, reason } => format!(
                "revoked on {} (reason: {})",
                fmt_time(*time),
                reason.unwrap_or("unspecified")
            ),
            OcspCertStatus::Unknown => "unknown".to_string(),
        };
        format!(
            "{status} (thisUpdate {}, nextUpdate {}, signed by '{}')",
            fmt_time(self.this_update),
            fmt_time(self.next_update),
            self.signer
        )
    }
}

/// Why an OCSP response (or request) could not be used. The text names the check that
/// failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OCSP response not usable: {detail}")]
pub struct OcspError {
    pub detail: String,
}

fn err(detail: impl Into<String>) -> OcspError {
    OcspError {
        detail: detail.into(),
    }
}

fn parse_err(e: ParseError) -> OcspError {
    err(format!("malformed response: {e}"))
}

/// The OCSPRequest (RFC 6960 §4.1.1) for `cert_der` issued by `issuer_der`: one CertID with
/// `hash`, no nonce (our responder pre-signs its responses), unsigned.
pub fn ocsp_request(
    cert_der: &[u8],
    issuer_der: &[u8],
    hash: OcspHash,
) -> Result<Vec<u8>, OcspError> {
    let (cert, issuer) = parse_pair(cert_der, issuer_der)?;
    let cert_id = seq(&[
        &seq(&[&tlv(tag::OID, hash.oid().as_bytes())]),
        &tlv(tag::OCTET_STRING, &hash.digest(&issuer.subject_raw)),
        &tlv(tag::OCTET_STRING, &hash.digest(&issuer.spki.key)),
        &tlv(tag::INTEGER, &cert.serial),
    ]);
    let request = seq(&[&cert_id]);
    let request_list = seq(&[&request]);
    let tbs = seq(&[&request_list]);
    Ok(seq(&[&tbs]))
}

fn tlv(t: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![t];
    let n = value.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(value);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &parts.concat())
}

fn parse_pair(cert_der: &[u8], issuer_der: &[u8]) -> Result<(Cert, Cert), OcspError> {
    let cert =
        Cert::parse(cert_der).map_err(|e| err(format!("could not parse the certificate: {e}")))?;
    let issuer = Cert::parse(issuer_der)
        .map_err(|e| err(format!("could not parse the issuer certificate: {e}")))?;
    if !cert.issuer.matches(&issuer.subject) {
        return Err(err(format!(
            "the certificate '{}' was not issued by '{}' (its issuer is '{}')",
            cert.subject_display, issuer.subject_display, cert.issuer
        )));
    }
    Ok((cert, issuer))
}

/// The parts of a BasicOCSPResponse the checks need.
struct Basic<'a> {
    tbs: &'a [u8],
    responder: ResponderId<'a>,
    produced_at: i64,
    responses: Vec<Single<'a>>,
    sig_alg: AlgId,
    signature: &'a [u8],
    certs: Vec<&'a [u8]>,
}

enum ResponderId<'a> {
    ByName(Name),
    ByKey(&'a [u8]),
}

struct Single<'a> {
    hash_alg: AlgId,
    name_hash: &'a [u8],
    key_hash: &'a [u8],
    serial: &'a [u8],
    status: OcspCertStatus,
    this_update: i64,
    next_update: Option<i64>,
    unknown_critical: Option<String>,
}

fn generalized(t: &Tlv<'_>, what: &str) -> PResult<i64> {
    if t.tag != tag::GENERALIZED_TIME {
        return Err(ParseError(format!("{what}: expected GeneralizedTime")));
    }
    parse_generalized_time(t.value)
}

/// Extensions: the OID of the first critical one not in `known`, if any.
fn unknown_critical(t: &Tlv<'_>, known: &[O]) -> PResult<Option<String>> {
    let seq = single(t.value, tag::SEQUENCE, "Extensions")?;
    let exts = crate::cert::parse_extensions(&seq)?;
    Ok(exts
        .iter()
        .find(|e| e.critical && !known.iter().any(|k| k.as_bytes() == e.oid.as_slice()))
        .map(|e| oid_to_string(&e.oid)))
}

fn parse_single<'a>(t: &Tlv<'a>) -> PResult<Single<'a>> {
    let mut r = t.reader();
    let cert_id = r.expect(tag::SEQUENCE, "CertID")?;
    let mut c = cert_id.reader();
    let hash_alg = AlgId::parse(&c.expect(tag::SEQUENCE, "hashAlgorithm")?)?;
    let name_hash = c.expect(tag::OCTET_STRING, "issuerNameHash")?.value;
    let key_hash = c.expect(tag::OCTET_STRING, "issuerKeyHash")?.value;
    let serial = c.expect(tag::INTEGER, "serialNumber")?.value;
    c.finish("CertID")?;
    let st = r.any()?;
    let status = match st.tag {
        0x80 if st.value.is_empty() => OcspCertStatus::Good,
        0x82 if st.value.is_empty() => OcspCertStatus::Unknown,
        0xa1 => {
            let mut ri = st.reader();
            let time = generalized(&ri.any()?, "revocationTime")?;
            let reason = match ri.optional(tag::ctx_cons(0))? {
                Some(w) => {
                    let e = single(w.value, tag::ENUMERATED, "revocationReason")?;
                    let code = parse_u32(e.value)?;
                    if code == 7 || code > 10 {
                        return Err(ParseError(format!("unknown revocationReason {code}")));
                    }
                    Some(reason_name(code))
                }
                None => None,
            };
            ri.finish("RevokedInfo")?;
            OcspCertStatus::Revoked { time, reason }
        }
        _ => return Err(ParseError::new("bad certStatus")),
    };
    let this_update = generalized(&r.any()?, "thisUpdate")?;
    let next_update = match r.optional(tag::ctx_cons(0))? {
        Some(w) => Some(generalized(
            &single(w.value, tag::GENERALIZED_TIME, "nextUpdate")?,
            "nextUpdate",
        )?),
        None => None,
    };
    let unknown = match r.optional(tag::ctx_cons(1))? {
        Some(e) => unknown_critical(&e, &[])?,
        None => None,
    };
    r.finish("SingleResponse")?;
    Ok(Single {
        hash_alg,
        name_hash,
        key_hash,
        serial,
        status,
        this_update,
        next_update,
        unknown_critical: unknown,
    })
}

/// Parses the OCSPResponse down to the BasicOCSPResponse. `Err` carries the reason the
/// response is not usable (a non-successful status included).
fn parse_basic(der: &[u8]) -> Result<Basic<'_>, OcspError> {
    if der.len() > MAX_OCSP_RESPONSE_LEN {
        return Err(err(format!(
            "it is {} octets long (at most {MAX_OCSP_RESPONSE_LEN} are read)",
            der.len()
        )));
    }
    let outer = single(der, tag::SEQUENCE, "OCSPResponse").map_err(parse_err)?;
    let mut r = outer.reader();
    let status = r
        .expect(tag::ENUMERATED, "responseStatus")
        .and_then(|t| parse_u32(t.value))
        .map_err(parse_err)?;
    if status != 0 {
        let name = match status {
            1 => "malformedRequest",
            2 => "internalError",
            3 => "tryLater",
            5 => "sigRequired",
            6 => "unauthorized",
            _ => "an unknown status",
        };
        return Err(err(format!(
            "the responder answered {name} ({status}), not successful"
        )));
    }
    let bytes = r
        .expect(tag::ctx_cons(0), "responseBytes")
        .map_err(parse_err)?;
    r.finish("OCSPResponse").map_err(parse_err)?;
    let rb = single(bytes.value, tag::SEQUENCE, "ResponseBytes").map_err(parse_err)?;
    let mut rr = rb.reader();
    let rtype = rr.expect(tag::OID, "responseType").map_err(parse_err)?;
    if rtype.value != OCSP_BASIC.as_bytes() {
        return Err(err(format!(
            "response type {} is not id-pkix-ocsp-basic",
            oid_to_string(rtype.value)
        )));
    }
    let inner = rr
        .expect(tag::OCTET_STRING, "response")
        .map_err(parse_err)?;
    rr.finish("ResponseBytes").map_err(parse_err)?;
    parse_basic_response(inner.value).map_err(parse_err)
}

fn parse_basic_response(der: &[u8]) -> PResult<Basic<'_>> {
    let b = single(der, tag::SEQUENCE, "BasicOCSPResponse")?;
    let mut r = b.reader();
    let tbs = r.expect(tag::SEQUENCE, "tbsResponseData")?;
    let sig_alg = AlgId::parse(&r.expect(tag::SEQUENCE, "signatureAlgorithm")?)?;
    let sig = r.expect(tag::BIT_STRING, "signature")?;
    let signature = bit_string_bytes(&sig)?;
    let mut certs = Vec::new();
    if let Some(w) = r.optional(tag::ctx_cons(0))? {
        let list = single(w.value, tag::SEQUENCE, "certs")?;
        let mut l = list.reader();
        while !l.is_empty() {
            if certs.len() >= 8 {
                return Err(ParseError::new("more than 8 certificates in certs"));
            }
            certs.push(l.expect(tag::SEQUENCE, "Certificate")?.raw);
        }
    }
    r.finish("BasicOCSPResponse")?;

    let mut t = tbs.reader();
    if let Some(v) = t.optional(tag::ctx_cons(0))? {
        let n = parse_u32(single(v.value, tag::INTEGER, "version")?.value)?;
        if n != 0 {
            return Err(ParseError(format!(
                "unknown ResponseData version {}",
                n + 1
            )));
        }
    }
    let rid = t.any()?;
    let responder = match rid.tag {
        0xa1 => ResponderId::ByName(Name::parse(&single(
            rid.value,
            tag::SEQUENCE,
            "responderID byName",
        )?)?),
        0xa2 => {
            ResponderId::ByKey(single(rid.value, tag::OCTET_STRING, "responderID byKey")?.value)
        }
        _ => return Err(ParseError::new("bad responderID")),
    };
    let produced_at = generalized(&t.any()?, "producedAt")?;
    let list = t.expect(tag::SEQUENCE, "responses")?;
    let mut l = list.reader();
    let mut responses = Vec::new();
    while !l.is_empty() {
        if responses.len() >= 64 {
            return Err(ParseError::new("more than 64 SingleResponses"));
        }
        responses.push(parse_single(&l.expect(tag::SEQUENCE, "SingleResponse")?)?);
    }
    let critical = match t.optional(tag::ctx_cons(1))? {
        Some(e) => unknown_critical(&e, &[OCSP_NONCE])?,
        None => None,
    };
    t.finish("ResponseData")?;
    if let Some(o) = critical {
        return Err(ParseError(format!(
            "the response has an unsupported critical extension {o}"
        )));
    }
    Ok(Basic {
        tbs: tbs.raw,
        responder,
        produced_at,
        responses,
        sig_alg,
        signature,
        certs,
    })
}

fn responder_is(id: &ResponderId<'_>, c: &Cert) -> bool {
    match id {
        ResponderId::ByName(n) => n.matches(&c.subject),
        ResponderId::ByKey(h) => sha1::Sha1::digest(&c.spki.key).as_slice() == *h,
    }
}

fn skew() -> i64 {
    OCSP_MAX_SKEW.as_secs() as i64
}

/// Checks a delegated signer: issued directly by `issuer` (name and signature), valid at
/// `at`, id-kp-OCSPSigning, digitalSignature when keyUsage is present.
fn check_delegate(d: &Cert, issuer: &Cert, at: i64) -> Result<(), String> {
    let who = &d.subject_display;
    if !d.issuer.matches(&issuer.subject) {
        return Err(format!(
            "the responder certificate '{who}' was not issued by the certificate's issuer '{}'",
            issuer.subject_display
        ));
    }
    match sig::verify(&d.sig_alg, &issuer.spki, &d.tbs, &d.signature, false) {
        Ok(()) => {}
        Err(SigError::Invalid) => {
            return Err(format!(
                "the responder certificate '{who}' is not signed by '{}'",
                issuer.subject_display
            ));
        }
        Err(SigError::Unsupported(why)) => {
            return Err(format!("the responder certificate '{who}': {why}"));
        }
    }
    if d.outer_alg_raw != d.inner_alg_raw {
        return Err(format!(
            "the responder certificate '{who}' names different signature algorithms inside and outside its signed part"
        ));
    }
    let ocsp_signing = d.eku.as_ref().is_some_and(|l| {
        l.iter()
            .any(|o| o.as_slice() == oid::KP_OCSP_SIGNING.as_bytes())
    });
    if !ocsp_signing {
        return Err(format!(
            "the responder certificate '{who}' is not an OCSP signer: its extendedKeyUsage does not include id-kp-OCSPSigning (RFC 6960 §4.2.2.2)"
        ));
    }
    if !d.has_key_usage(ku::DIGITAL_SIGNATURE) {
        return Err(format!(
            "the responder certificate '{who}' may not sign: its keyUsage lacks digitalSignature"
        ));
    }
    if at < d.not_before.saturating_sub(skew()) {
        return Err(format!(
            "the responder certificate '{who}' is not valid before {}",
            fmt_time(d.not_before)
        ));
    }
    if at > d.not_after {
        return Err(format!(
            "the responder certificate '{who}' expired at {}",
            fmt_time(d.not_after)
        ));
    }
    if let Some(o) = d.unknown_critical.first() {
        return Err(format!(
            "the responder certificate '{who}' has an unsupported critical extension {}",
            oid_to_string(o)
        ));
    }
    Ok(())
}

/// Checks an OCSP response (DER, as the responder answered it) for `cert_der` issued by
/// `issuer_der` at `at` (Unix seconds): see the module documentation for what is checked.
/// `Ok` carries the status (good, revoked, unknown); `Err` says why the response cannot be
/// used at all. A caller fails closed on anything but `Ok` with [`OcspCertStatus::Good`].
pub fn check_ocsp_response(
    response_der: &[u8],
    cert_der: &[u8],
    issuer_der: &[u8],
    at: i64,
) -> Result<OcspResult, OcspError> {
    let (cert, issuer) = parse_pair(cert_der, issuer_der)?;
    let basic = parse_basic(response_der)?;

    // The signer: the CA itself, or a delegated signer among `certs`.
    let mut problems: Vec<String> = Vec::new();
    let mut signer: Option<(Cert, bool)> = None;
    if responder_is(&basic.responder, &issuer) {
        signer = Some((issuer.clone(), false));
    } else {
        for raw in &basic.certs {
            let d = match Cert::parse(raw) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(format!("a certificate in the response is unreadable: {e}"));
                    continue;
                }
            };
            if !responder_is(&basic.responder, &d) {
                continue;
            }
            match check_delegate(&d, &issuer, at) {
                Ok(()) => {
                    signer = Some((d, true));
                    break;
                }
                Err(why) => problems.push(why),
            }
        }
    }
    let Some((signer, delegated)) = signer else {
        if problems.is_empty() {
            problems.push(format!(
                "its responderID names neither the issuer '{}' nor a certificate the response carries",
                issuer.subject_display
            ));
        }
        return Err(err(problems.join("; ")));
    };
    match sig::verify(
        &basic.sig_alg,
        &signer.spki,
        basic.tbs,
        basic.signature,
        false,
    ) {
        Ok(()) => {}
        Err(SigError::Invalid) => {
            return Err(err(format!(
                "its signature does not verify with the key of '{}'",
                signer.subject_display
            )));
        }
        Err(SigError::Unsupported(why)) => {
            return Err(err(format!("its signature cannot be checked: {why}")));
        }
    }

    // The SingleResponse for this certificate.
    let mut chosen = None;
    for s in &basic.responses {
        let hash = if s.hash_alg.oid == ID_SHA1.as_bytes() {
            OcspHash::Sha1
        } else if s.hash_alg.oid == ID_SHA256.as_bytes() {
            OcspHash::Sha256
        } else {
            continue;
        };
        if s.hash_alg
            .params
            .as_deref()
            .is_some_and(|p| p != [tag::NULL, 0])
        {
            continue;
        }
        if s.serial == cert.serial.as_slice()
            && s.name_hash == hash.digest(&issuer.subject_raw).as_slice()
            && s.key_hash == hash.digest(&issuer.spki.key).as_slice()
        {
            chosen = Some(s);
            break;
        }
    }
    let Some(s) = chosen else {
        return Err(err(format!(
            "none of its {} SingleResponse(s) is for the certificate '{}' (serial {}) of '{}': the CertID does not match",
            basic.responses.len(),
            cert.subject_display,
            hex::encode(&cert.serial),
            issuer.subject_display
        )));
    };
    if let Some(o) = &s.unknown_critical {
        return Err(err(format!(
            "its SingleResponse has an unsupported critical extension {o}"
        )));
    }
    if s.this_update > at.saturating_add(skew()) {
        return Err(err(format!(
            "its thisUpdate {} is in the future",
            fmt_time(s.this_update)
        )));
    }
    let Some(next_update) = s.next_update else {
        return Err(err(
            "it has no nextUpdate (a response without one cannot be cached or judged fresh)",
        ));
    };
    if at > next_update {
        return Err(err(format!(
            "it is past its nextUpdate ({})",
            fmt_time(next_update)
        )));
    }
    Ok(OcspResult {
        status: s.status.clone(),
        this_update: s.this_update,
        next_update,
        produced_at: basic.produced_at,
        signer: signer.subject_display.clone(),
        delegated,
    })
}

/// The OCSP responder URLs of a certificate's authorityInfoAccess (id-ad-ocsp, `http://`
/// only), in the order given.
pub fn ocsp_urls(cert_der: &[u8]) -> Result<Vec<String>, OcspError> {
    let cert =
        Cert::parse(cert_der).map_err(|e| err(format!("could not parse the certificate: {e}")))?;
    let mut out = Vec::new();
    let aia = cert
        .extensions
        .iter()
        .find(|e| e.oid == oid::AUTHORITY_INFO_ACCESS.as_bytes());
    let Some(aia) = aia else { return Ok(out) };
    let parse = || -> PResult<Vec<String>> {
        let seq = single(&aia.value, tag::SEQUENCE, "authorityInfoAccess")?;
        let mut r = seq.reader();
        let mut urls = Vec::new();
        while !r.is_empty() {
            let ad = r.expect(tag::SEQUENCE, "AccessDescription")?;
            let mut a = ad.reader();
            let method = a.expect(tag::OID, "accessMethod")?;
            let loc = a.any()?;
            if method.value == AD_OCSP.as_bytes()
                && loc.tag == 0x86
                && let Ok(u) = std::str::from_utf8(loc.value)
                && u.starts_with("http://")
            {
                urls.push(u.to_string());
            }
        }
        Ok(urls)
    };
    out = parse().map_err(|e| err(format!("authorityInfoAccess: {e}")))?;
    Ok(out)
}

const AD_OCSP: O = O::new_unwrap("1.3.6.1.5.5.7.48.1");
