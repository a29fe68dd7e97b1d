//! The project's own profile lints (DESIGN §4), run on every TBSCertificate before a real
//! key signs it. Each rule has a stable name; a failure refuses to sign and names it.
//!
//! The certificate lints read the encoded TBS (what will be signed), not the template.
//! The CRL lints run inside the streaming encoder on the fields themselves, entry by
//! entry ([`crate::crl`]).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use kmn_domain::{ProfileKind, ValidityPeriod};

use crate::derw::tag;
use crate::ext::PolicyOid;
use crate::parse::{self, KeyInfo, Tbs};
use crate::profile::{IssuerInfo, profile_eku, profile_key_usage};
use crate::{PkiError, derr, derw, name, oid};

/// A lint that failed: the rule's stable name and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("lint {rule} failed: {detail}")]
pub struct LintFailure {
    /// Stable rule name, e.g. `e_validity_within_issuer`.
    pub rule: &'static str,
    /// What was found.
    pub detail: String,
}

/// What the caller requires beyond the profile itself.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    /// The exact policy OIDs the certificate must carry (empty: none).
    pub policies: Vec<PolicyOid>,
    /// For card certificates: the period the holder applied for (第10条).
    pub validity: Option<ValidityPeriod>,
    /// Whether CRL DP and AIA caIssuers must be present (everything below the root).
    pub require_urls: bool,
}

fn fail(rule: &'static str, detail: impl Into<String>) -> PkiError {
    PkiError::Lint(LintFailure {
        rule,
        detail: detail.into(),
    })
}

/// Lints a TBSCertificate of `profile` to be signed by `issuer`.
pub fn lint_tbs(
    tbs_der: &[u8],
    profile: ProfileKind,
    issuer: &IssuerInfo,
    expect: &Expectations,
) -> Result<(), PkiError> {
    let tbs = parse::tbs(tbs_der).map_err(|e| fail("e_tbs_parses", e.to_string()))?;
    let is_ca = matches!(profile, ProfileKind::Root | ProfileKind::IssuingCa);

    if tbs.version != 2 {
        return Err(fail("e_version_v3", "certificates must be v3"));
    }
    lint_serial(tbs.serial)?;
    if tbs.signature_alg != issuer.signature_algorithm.algorithm_identifier().as_slice() {
        return Err(fail(
            "e_signature_algorithm_matches_issuer_key",
            "the TBS signature algorithm is not the one the CA key signs with",
        ));
    }
    if tbs.issuer != issuer.subject_der.as_slice() {
        return Err(fail(
            "e_issuer_name_bytes_match_ca_subject",
            "the issuer name is not byte for byte the CA certificate's subject",
        ));
    }
    lint_validity(&tbs, profile, issuer, expect)?;
    lint_subject(&tbs, profile)?;
    lint_key(tbs.spki)?;
    lint_extensions(&tbs, profile, issuer, expect, is_ca)?;
    Ok(())
}

fn lint_serial(serial: &[u8]) -> Result<(), PkiError> {
    if serial.first().is_none_or(|b| b & 0x80 != 0) {
        return Err(fail(
            "e_serial_positive",
            "the serial number must be positive",
        ));
    }
    if serial.len() > 20 {
        return Err(fail(
            "e_serial_max_20_octets",
            "the serial number is longer than 20 octets (RFC 5280 §4.1.2.2)",
        ));
    }
    let value = match serial {
        [0, rest @ ..] => rest,
        s => s,
    };
    if value.len() < 9 {
        return Err(fail(
            "e_serial_min_64_random_bits",
            "the serial number is shorter than 64 bits of randomness allow",
        ));
    }
    Ok(())
}

/// The encoding RFC 5280 §4.1.2.5 requires for an instant.
fn expected_time_tag(t: time::OffsetDateTime) -> u8 {
    if t.year() < 2050 {
        tag::UTC_TIME
    } else {
        tag::GENERALIZED_TIME
    }
}

fn lint_validity(
    tbs: &Tbs<'_>,
    profile: ProfileKind,
    issuer: &IssuerInfo,
    expect: &Expectations,
) -> Result<(), PkiError> {
    let (nb, na) = (tbs.not_before.at, tbs.not_after.at);
    for f in [tbs.not_before, tbs.not_after] {
        if f.tag != expected_time_tag(f.at) {
            return Err(fail(
                "e_validity_time_encoding",
                "times before 2050 must be UTCTime and from 2050 GeneralizedTime",
            ));
        }
    }
    if nb >= na {
        return Err(fail(
            "e_validity_order",
            "notBefore must be before notAfter",
        ));
    }
    if profile != ProfileKind::Root && (nb < issuer.not_before || na > issuer.not_after) {
        return Err(fail(
            "e_validity_within_issuer",
            format!(
                "the certificate would be valid until {} but the CA only until {}; validity is never shortened (第10条), a new issuing CA must take over",
                kmn_domain::time_fmt::rfc3339(na),
                kmn_domain::time_fmt::rfc3339(issuer.not_after)
            ),
        ));
    }
    if let Some(period) = expect.validity
        && na != period.not_after(nb)
    {
        return Err(fail(
            "e_validity_full_period",
            format!(
                "a {}-year card must be valid exactly {} years from issue (第10条)",
                period.years(),
                period.years()
            ),
        ));
    }
    Ok(())
}

fn lint_subject(tbs: &Tbs<'_>, profile: ProfileKind) -> Result<(), PkiError> {
    let rdns =
        parse::name_attributes(tbs.subject).map_err(|e| fail("e_subject_parses", e.to_string()))?;
    if rdns.is_empty() && profile != ProfileKind::Server {
        return Err(fail("e_subject_not_empty", "the subject is empty"));
    }
    for rdn in &rdns {
        let [(o, t, v)] = rdn.as_slice() else {
            return Err(fail("e_subject_single_valued_rdns", "multi-valued RDN"));
        };
        let oid_parsed = const_oid::ObjectIdentifier::new(o)
            .map_err(|_| fail("e_subject_known_attributes", format!("attribute {o}")))?;
        if !name::KNOWN_ATTRIBUTES.iter().any(|(k, _)| *k == oid_parsed) {
            return Err(fail(
                "e_subject_known_attributes",
                format!("attribute {o} is not part of the profile"),
            ));
        }
        let want = match name::profile_kind(&oid_parsed) {
            name::StringKind::Printable => tag::PRINTABLE_STRING,
            name::StringKind::Utf8 => tag::UTF8_STRING,
        };
        let label = name::attribute_label(&oid_parsed);
        if *t != want {
            return Err(fail(
                "e_subject_string_types",
                format!(
                    "{label} must be {}",
                    if want == tag::PRINTABLE_STRING {
                        "PrintableString"
                    } else {
                        "UTF8String"
                    }
                ),
            ));
        }
        let s = std::str::from_utf8(v).map_err(|_| {
            fail(
                "e_subject_string_types",
                format!("{label} is not valid UTF-8"),
            )
        })?;
        if want == tag::PRINTABLE_STRING && !derw::is_printable(s) {
            return Err(fail(
                "e_subject_string_types",
                format!("{label} has characters outside PrintableString"),
            ));
        }
        if s.chars().count() > name::MAX_VALUE_CHARS || s.trim().is_empty() {
            return Err(fail(
                "e_subject_value_length",
                format!(
                    "{label} must have 1 to {} characters",
                    name::MAX_VALUE_CHARS
                ),
            ));
        }
    }
    Ok(())
}

/// Key checks (RSA ≥ 2048 with e = 65537; ECDSA on P-256 or P-384).
pub fn lint_key(spki: &[u8]) -> Result<(), PkiError> {
    match parse::key_info(spki).map_err(|e| fail("e_spki_parses", e.to_string()))? {
        KeyInfo::Rsa { bits, exponent, .. } => {
            if bits < 2048 {
                return Err(fail(
                    "e_rsa_key_min_2048",
                    format!("the RSA key has {bits} bits; at least 2048 are required"),
                ));
            }
            if exponent != 65537 {
                return Err(fail(
                    "e_rsa_exponent_65537",
                    format!("the RSA public exponent is {exponent}; 65537 is required"),
                ));
            }
        }
        KeyInfo::Ec { curve } => {
            if curve != oid::SECP256R1.to_string() && curve != oid::SECP384R1.to_string() {
                return Err(fail(
                    "e_ec_curve_allowed",
                    format!("the EC curve {curve} is not allowed (P-256, P-384)"),
                ));
            }
        }
        KeyInfo::Other(o) => {
            return Err(fail(
                "e_key_algorithm_allowed",
                format!("key algorithm {o} is not allowed (RSA, ECDSA)"),
            ));
        }
    }
    Ok(())
}

fn lint_extensions(
    tbs: &Tbs<'_>,
    profile: ProfileKind,
    issuer: &IssuerInfo,
    expect: &Expectations,
    is_ca: bool,
) -> Result<(), PkiError> {
    let mut seen = HashSet::new();
    for e in &tbs.extensions {
        if !seen.insert(e.oid.as_str()) {
            return Err(fail(
                "e_extension_not_duplicated",
                format!("extension {} appears twice", e.oid),
            ));
        }
    }
    let allowed = [
        oid::EXT_BASIC_CONSTRAINTS,
        oid::EXT_KEY_USAGE,
        oid::EXT_EXT_KEY_USAGE,
        oid::EXT_SUBJECT_KEY_ID,
        oid::EXT_AUTHORITY_KEY_ID,
        oid::EXT_SUBJECT_ALT_NAME,
        oid::EXT_SUBJECT_DIRECTORY_ATTRIBUTES,
        oid::EXT_CERT_POLICIES,
        oid::EXT_CRL_DP,
        oid::EXT_AUTHORITY_INFO_ACCESS,
        oid::EXT_OCSP_NOCHECK,
    ];
    if let Some(e) = tbs
        .extensions
        .iter()
        .find(|e| !allowed.iter().any(|o| e.is(o)))
    {
        return Err(fail(
            "e_extension_known",
            format!("extension {} is not part of the profile", e.oid),
        ));
    }

    // basicConstraints (RFC 5280 §4.2.1.9).
    match (is_ca, tbs.ext(&oid::EXT_BASIC_CONSTRAINTS)) {
        (true, Some(e)) => {
            let bc = derr::read_one(e.value, tag::SEQUENCE)?;
            let f = derr::children(bc.content)?;
            if !e.critical || f.first().map(|t| t.content) != Some(&[0xff][..]) {
                return Err(fail(
                    "e_basic_constraints_ca",
                    "a CA certificate needs critical basicConstraints cA=TRUE",
                ));
            }
        }
        (true, None) => {
            return Err(fail(
                "e_basic_constraints_ca",
                "a CA certificate needs basicConstraints",
            ));
        }
        (false, Some(_)) => {
            return Err(fail(
                "e_basic_constraints_end_entity",
                "end-entity certificates carry no basicConstraints in this profile",
            ));
        }
        (false, None) => {}
    }

    // keyUsage (§4.2.1.3): present, critical, exactly the profile's bits.
    let ku = tbs
        .ext(&oid::EXT_KEY_USAGE)
        .ok_or_else(|| fail("e_key_usage_present", "keyUsage is missing"))?;
    let want = derw::named_bits(&profile_key_usage(profile, tbs.spki));
    if !ku.critical || ku.value != want.as_slice() {
        return Err(fail(
            "e_key_usage_profile",
            "keyUsage must be critical and exactly the profile's bits",
        ));
    }

    // extKeyUsage (§4.2.1.12).
    let eku_want = profile_eku(profile);
    match tbs.ext(&oid::EXT_EXT_KEY_USAGE) {
        None if eku_want.is_empty() => {}
        None => return Err(fail("e_eku_profile", "extKeyUsage is missing")),
        Some(_) if eku_want.is_empty() => {
            return Err(fail(
                "e_eku_profile",
                "CA certificates carry no extKeyUsage",
            ));
        }
        Some(e) => {
            let seq = derr::read_one(e.value, tag::SEQUENCE)?;
            let got: Vec<String> = derr::children(seq.content)?
                .iter()
                .map(|t| derr::oid_to_string(t.content))
                .collect::<Result<_, _>>()?;
            let want: Vec<String> = eku_want.iter().map(|o| o.to_string()).collect();
            if e.critical || got != want {
                return Err(fail(
                    "e_eku_profile",
                    format!("extKeyUsage must be exactly {want:?}, non-critical"),
                ));
            }
        }
    }

    // SKI / AKI (§4.2.1.1, §4.2.1.2).
    let ski = tbs
        .ext(&oid::EXT_SUBJECT_KEY_ID)
        .ok_or_else(|| fail("e_ski_present", "subjectKeyIdentifier is missing"))?;
    let kid = crate::ext::key_identifier(tbs.spki)?;
    if derr::read_one(ski.value, tag::OCTET_STRING)?.content != kid.as_slice() || ski.critical {
        return Err(fail(
            "e_ski_matches_key",
            "subjectKeyIdentifier does not match the key",
        ));
    }
    let aki = tbs
        .ext(&oid::EXT_AUTHORITY_KEY_ID)
        .ok_or_else(|| fail("e_aki_present", "authorityKeyIdentifier is missing"))?;
    let aki_seq = derr::read_one(aki.value, tag::SEQUENCE)?;
    let aki_f = derr::children(aki_seq.content)?;
    let key_id_ok = match aki_f.as_slice() {
        [kid] => kid.tag == 0x80 && kid.content == issuer.key_id.as_slice(),
        _ => false,
    };
    if aki.critical || !key_id_ok {
        return Err(fail(
            "e_aki_matches_issuer",
            "authorityKeyIdentifier must be the CA's key identifier",
        ));
    }
    if profile == ProfileKind::Root && kid != issuer.key_id {
        return Err(fail(
            "e_root_self_signed",
            "the root's key identifier must be its own",
        ));
    }

    // certificatePolicies (§4.2.1.4): exactly the expected OIDs; never anyPolicy or HPKI.
    let got_policies = match tbs.ext(&oid::EXT_CERT_POLICIES) {
        None => vec![],
        Some(e) => {
            let seq = derr::read_one(e.value, tag::SEQUENCE)?;
            let mut v = Vec::new();
            for info in derr::children(seq.content)? {
                let f = derr::children(info.content)?;
                let o = f
                    .first()
                    .ok_or_else(|| fail("e_policies", "empty PolicyInformation"))?;
                v.push(derr::oid_to_string(o.content)?);
            }
            v
        }
    };
    for p in &got_policies {
        if p == &oid::ANY_POLICY.to_string() {
            return Err(fail(
                "e_policy_not_any_policy",
                "anyPolicy is never used (DESIGN §4)",
            ));
        }
        if p.starts_with(oid::HPKI_ARC_PREFIX) {
            return Err(fail(
                "e_policy_not_hpki",
                "an HPKI policy OID is never used by this CA",
            ));
        }
    }
    if let Some(p) = expect.policies.iter().find(|p| !p.arcs_fit_32_bits()) {
        return Err(fail(
            "e_policy_oid_arcs_32_bit",
            format!(
                "policy OID {p} has an arc wider than 32 bits, which relying parties cannot decode"
            ),
        ));
    }
    let want_policies: Vec<String> = expect.policies.iter().map(|p| p.to_string()).collect();
    if got_policies != want_policies {
        return Err(fail(
            "e_policies_profile",
            format!("certificatePolicies must be {want_policies:?}, found {got_policies:?}"),
        ));
    }
    // The signers (OCSP, audit) carry no policy: they certify no one.
    if !matches!(
        profile,
        ProfileKind::Root | ProfileKind::OcspSigner | ProfileKind::AuditSigner
    ) && want_policies.is_empty()
    {
        return Err(fail(
            "e_policies_profile",
            "certificates below the root must carry the network's policy OIDs",
        ));
    }

    // CRL DP and AIA over HTTP (§4.2.1.13, §4.2.2.1).
    if expect.require_urls && profile != ProfileKind::Root && profile != ProfileKind::OcspSigner {
        let dp = tbs
            .ext(&oid::EXT_CRL_DP)
            .ok_or_else(|| fail("e_crl_dp_present", "cRLDistributionPoints is missing"))?;
        if !contains_http_uri(dp.value) {
            return Err(fail(
                "e_crl_dp_http",
                "cRLDistributionPoints must name an http:// URL",
            ));
        }
        let aia = tbs
            .ext(&oid::EXT_AUTHORITY_INFO_ACCESS)
            .ok_or_else(|| fail("e_aia_present", "authorityInfoAccess is missing"))?;
        if !contains_http_uri(aia.value) {
            return Err(fail(
                "e_aia_http",
                "authorityInfoAccess must name http:// URLs",
            ));
        }
    }

    // OCSP signer (RFC 6960 §4.2.2.2): ocsp-nocheck, no CRL DP/AIA.
    if profile == ProfileKind::OcspSigner && tbs.ext(&oid::EXT_OCSP_NOCHECK).is_none() {
        return Err(fail(
            "e_ocsp_signer_nocheck",
            "the OCSP signer needs id-pkix-ocsp-nocheck",
        ));
    }
    if profile != ProfileKind::OcspSigner && tbs.ext(&oid::EXT_OCSP_NOCHECK).is_some() {
        return Err(fail(
            "e_ocsp_nocheck_only_for_signer",
            "only the OCSP signer carries ocsp-nocheck",
        ));
    }

    // subjectAltName: required for servers; directoryName values are UTF8String.
    match tbs.ext(&oid::EXT_SUBJECT_ALT_NAME) {
        None if profile == ProfileKind::Server => {
            return Err(fail(
                "e_server_san_present",
                "a server certificate needs a subjectAltName",
            ));
        }
        None => {}
        Some(e) => {
            let seq = derr::read_one(e.value, tag::SEQUENCE)?;
            let names = derr::children(seq.content)?;
            if names.is_empty() {
                return Err(fail("e_san_not_empty", "subjectAltName is empty"));
            }
            for n in names {
                if n.tag == 0xa4 {
                    for rdn in parse::name_attributes(n.content)? {
                        for (_, t, v) in rdn {
                            if t != tag::UTF8_STRING || std::str::from_utf8(v).is_err() {
                                return Err(fail(
                                    "e_san_directory_name_utf8",
                                    "the SAN directoryName must be UTF8String",
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn contains_http_uri(value: &[u8]) -> bool {
    // Find every [6] IA5String URI anywhere in the value.
    // Iterative, with a depth bound: the values are ours, but no DER walk here recurses.
    const MAX_DEPTH: usize = 16;
    let (mut found, mut all_http) = (false, true);
    let mut stack = vec![(value, 0usize)];
    while let Some((content, depth)) = stack.pop() {
        let Ok(children) = derr::children(content) else {
            continue;
        };
        for c in children {
            if c.tag == 0x86 {
                found = true;
                if !c.content.starts_with(b"http://") {
                    all_http = false;
                }
            } else if c.tag & 0x20 != 0 {
                if depth >= MAX_DEPTH {
                    return false;
                }
                stack.push((c.content, depth + 1));
            }
        }
    }
    found && all_http
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use kmn_domain::{CertSerial, ProfileKind, ValidityPeriod};
    use time::macros::datetime;

    use super::*;
    use crate::cert::{CertTemplate, IssuerInfo, Urls, build_tbs, prepare};
    use crate::ext::PolicyOid;
    use crate::keys::{KeyAlgorithm, Signer, SoftwareKey};
    use crate::name::DistinguishedName;

    fn issuer() -> (SoftwareKey, IssuerInfo) {
        let (k, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let mut dn = DistinguishedName::default();
        dn.push(oid::AT_COUNTRY, "JP").unwrap();
        dn.push(oid::AT_COMMON_NAME, "Test Issuing CA").unwrap();
        let info = IssuerInfo {
            subject_der: dn.to_der(),
            key_id: crate::ext::key_identifier(k.spki_der()).unwrap(),
            spki_der: k.spki_der().to_vec(),
            not_before: datetime!(2026-01-01 00:00 UTC),
            not_after: datetime!(2036-01-01 00:00 UTC),
            signature_algorithm: k.signature_algorithm(),
        };
        (k, info)
    }

    fn policy() -> PolicyOid {
        PolicyOid::parse("1.2.840.113556.1.8000.2554.1.2.3.4.5.6.7.1").unwrap()
    }

    fn card(spki: Vec<u8>) -> CertTemplate {
        let mut dn = DistinguishedName::default();
        dn.push(oid::AT_COUNTRY, "JP").unwrap();
        dn.push(oid::AT_COMMON_NAME, "Taro Yamada").unwrap();
        let nb = datetime!(2026-11-26 00:00 UTC);
        CertTemplate {
            profile: ProfileKind::UserCard,
            serial: CertSerial::from_random([0x42; 16]).unwrap(),
            subject: dn,
            spki_der: spki,
            not_before: nb,
            not_after: ValidityPeriod::Years5.not_after(nb),
            policies: vec![policy()],
            urls: Urls {
                crl: Some("http://kmn.example/repo/i.crl".into()),
                ocsp: Some("http://kmn.example/ocsp".into()),
                ca_issuers: Some("http://kmn.example/repo/i.crt".into()),
                cps: Some("http://kmn.example/repo/cps".into()),
            },
            alt_names: vec![],
            hc_role: None,
        }
    }

    fn expect() -> Expectations {
        Expectations {
            policies: vec![policy()],
            validity: Some(ValidityPeriod::Years5),
            require_urls: true,
        }
    }

    fn rule(r: Result<crate::cert::LintedTbs, PkiError>) -> &'static str {
        match r {
            Err(PkiError::Lint(l)) => l.rule,
            other => panic!("expected a lint failure, got {other:?}"),
        }
    }

    #[test]
    fn design4_valid_card_passes_and_signs() {
        let (k, iss) = issuer();
        let (leaf, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let linted = prepare(&card(leaf.spki_der().to_vec()), &iss, &expect()).unwrap();
        let der = crate::cert::sign(linted, &k).unwrap();
        let c = crate::parse::cert(&der).unwrap();
        crate::csr::verify_signature(&iss.spki_der, c.signature_alg, c.tbs.raw, c.signature)
            .unwrap();
    }

    /// Issue 9 item 6: the audit signer carries digitalSignature, id-kp-documentSigning
    /// (RFC 9336) and no certificatePolicies; a policy it does not need is refused.
    #[test]
    fn issue9_audit_signer_profile_signs_documents_without_a_policy() {
        let (_, iss) = issuer();
        let (leaf, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let mut t = card(leaf.spki_der().to_vec());
        t.profile = ProfileKind::AuditSigner;
        t.policies = vec![];
        t.urls.ocsp = None;
        t.urls.cps = None;
        let no_policy = Expectations {
            policies: vec![],
            validity: None,
            require_urls: true,
        };
        let linted = prepare(&t, &iss, &no_policy).unwrap();
        let tbs = crate::parse::tbs(linted.tbs()).unwrap();
        let eku = tbs.ext(&oid::EXT_EXT_KEY_USAGE).unwrap();
        assert!(
            eku.value
                .windows(oid::KP_DOCUMENT_SIGNING.as_bytes().len())
                .any(|w| w == oid::KP_DOCUMENT_SIGNING.as_bytes())
        );
        assert!(tbs.ext(&oid::EXT_CERT_POLICIES).is_none());
        t.policies = vec![policy()];
        assert_eq!(rule(prepare(&t, &iss, &no_policy)), "e_policies_profile");
    }

    #[test]
    fn art10_validity_beyond_the_ca_is_refused_never_shortened() {
        let (_, iss) = issuer();
        let (leaf, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let mut t = card(leaf.spki_der().to_vec());
        t.not_before = datetime!(2032-01-01 00:00 UTC);
        t.not_after = ValidityPeriod::Years5.not_after(t.not_before);
        assert_eq!(
            rule(prepare(&t, &iss, &expect())),
            "e_validity_within_issuer"
        );
    }

    #[test]
    fn art10_validity_must_be_the_full_period() {
        let (_, iss) = issuer();
        let (leaf, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let mut t = card(leaf.spki_der().to_vec());
        t.not_after -= time::Duration::days(1);
        assert_eq!(rule(prepare(&t, &iss, &expect())), "e_validity_full_period");
    }

    #[test]
    fn design4_any_policy_and_hpki_oids_are_refused() {
        let (_, iss) = issuer();
        let (leaf, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let mut t = card(leaf.spki_der().to_vec());
        t.policies = vec![PolicyOid::parse("2.5.29.32.0").unwrap()];
        let mut e = expect();
        e.policies = t.policies.clone();
        assert_eq!(rule(prepare(&t, &iss, &e)), "e_policy_not_any_policy");
        t.policies = vec![PolicyOid::parse("1.2.392.100495.1.5.1.1").unwrap()];
        e.policies = t.policies.clone();
        assert_eq!(rule(prepare(&t, &iss, &e)), "e_policy_not_hpki");
        t.policies = vec![policy()];
        e.policies = vec![PolicyOid::parse("1.2.3.4").unwrap()];
        assert_eq!(rule(prepare(&t, &iss, &e)), "e_policies_profile");
    }

    #[test]
    fn design4_weak_keys_are_refused() {
        // A 1024-bit RSA SubjectPublicKeyInfo.
        let modulus = [vec![0x00, 0xc0], vec![0x11; 127]].concat();
        let rsa = crate::derw::seq(&[&crate::derw::uint(&modulus), &crate::derw::uint_u64(65537)]);
        let alg = crate::derw::seq(&[
            &crate::derw::oid(&oid::RSA_ENCRYPTION),
            &crate::derw::null(),
        ]);
        let spki = crate::derw::seq(&[&alg, &crate::derw::bits(&rsa)]);
        let (_, iss) = issuer();
        assert_eq!(
            rule(prepare(&card(spki), &iss, &expect())),
            "e_rsa_key_min_2048"
        );
    }

    #[test]
    fn design4_subject_values_over_64_characters_are_refused() {
        let (_, iss) = issuer();
        let (leaf, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let mut t = card(leaf.spki_der().to_vec());
        // Bypass the builder's own check to prove the lint catches it too.
        t.subject.0[1].value = "x".repeat(65);
        assert_eq!(rule(prepare(&t, &iss, &expect())), "e_subject_value_length");
        t.subject.0[1].value = "Taro".into();
        t.subject.0[0].kind = crate::name::StringKind::Utf8;
        assert_eq!(rule(prepare(&t, &iss, &expect())), "e_subject_string_types");
    }

    #[test]
    fn design4_issuer_name_must_be_byte_for_byte() {
        let (_, mut iss) = issuer();
        let (leaf, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let t = card(leaf.spki_der().to_vec());
        let tbs = build_tbs(&t, &iss).unwrap();
        // The same name with CN as PrintableString instead of UTF8String.
        let mut other = DistinguishedName::default();
        other.push(oid::AT_COUNTRY, "JP").unwrap();
        other.push(oid::AT_COMMON_NAME, "Test Issuing CA").unwrap();
        other.0[1].kind = crate::name::StringKind::Printable;
        iss.subject_der = other.to_der();
        let r = lint_tbs(&tbs, ProfileKind::UserCard, &iss, &expect());
        assert!(
            matches!(r, Err(PkiError::Lint(l)) if l.rule == "e_issuer_name_bytes_match_ca_subject")
        );
    }

    #[test]
    fn server_needs_a_subject_alt_name() {
        let (_, iss) = issuer();
        let (leaf, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let mut t = card(leaf.spki_der().to_vec());
        t.profile = ProfileKind::Server;
        assert_eq!(rule(prepare(&t, &iss, &expect())), "e_server_san_present");
    }
}
