//! Extension encoders for the profile (RFC 5280 §4.2, RFC 6960 §4.2.2.2.1,
//! ISO 17090-3 for hcRole). rcgen has no builders for several of these; they are written
//! here with [`crate::derw`].

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use const_oid::ObjectIdentifier as Oid;
use sha1::Digest;

use crate::{PkiError, derw, oid};

/// Key usage bits (RFC 5280 §4.2.1.3).
pub mod ku {
    pub const DIGITAL_SIGNATURE: u8 = 0;
    pub const KEY_ENCIPHERMENT: u8 = 2;
    pub const KEY_CERT_SIGN: u8 = 5;
    pub const CRL_SIGN: u8 = 6;
}

/// A policy OID that may have arcs wider than 32 bits (`2.25.<uuid>`, X.667).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyOid {
    arcs: Vec<u128>,
}

impl PolicyOid {
    /// Parses dotted text.
    pub fn parse(s: &str) -> Result<Self, PkiError> {
        let arcs: Result<Vec<u128>, _> = s.trim().split('.').map(|a| a.parse::<u128>()).collect();
        let arcs = arcs.map_err(|_| PkiError::BadInput(format!("'{s}' is not a dotted OID")))?;
        let valid = match arcs.as_slice() {
            [0 | 1, second, ..] => *second < 40,
            // The first two arcs share one subidentifier: 80 + the second must fit.
            [2, second, ..] => *second <= u128::MAX - 80,
            _ => false,
        };
        if !valid {
            return Err(PkiError::BadInput(format!("'{s}' is not a valid OID")));
        }
        Ok(Self { arcs })
    }

    /// A child arc.
    pub fn child(&self, arc: u128) -> Self {
        let mut arcs = self.arcs.clone();
        arcs.push(arc);
        Self { arcs }
    }

    /// A registration-free arc derived from a UUID.
    ///
    /// DESIGN §4 asked for X.667's `2.25.<uuid>`, but that puts a 128-bit integer in one
    /// arc, which pkilint (pyasn1), RustCrypto's `const-oid` and other relying-party
    /// libraries refuse ("arc larger than 32 bits"). This uses the published scheme for
    /// GUID-derived OIDs instead: `1.2.840.113556.1.8000.2554` followed by the UUID cut
    /// into five 16-bit and two 24-bit arcs (128 bits, every arc fits 32 bits).
    pub fn from_uuid(u: uuid::Uuid) -> Self {
        let v = u.as_u128();
        let mut arcs: Vec<u128> = vec![1, 2, 840, 113556, 1, 8000, 2554];
        let widths = [16u32, 16, 16, 16, 16, 24, 24];
        let mut shift = 128u32;
        for w in widths {
            shift -= w;
            arcs.push((v >> shift) & ((1u128 << w) - 1));
        }
        Self { arcs }
    }

    /// Whether every arc fits 32 bits (what relying parties can decode).
    pub fn arcs_fit_32_bits(&self) -> bool {
        self.arcs.iter().all(|a| *a <= u128::from(u32::MAX))
    }

    /// Content octets of the DER OBJECT IDENTIFIER.
    pub fn content(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // `parse` and `from_uuid` make at least two arcs, the first 0, 1 or 2, and the
        // first subidentifier fits; saturating keeps a hand-made value from panicking.
        let (first, rest) = match self.arcs.as_slice() {
            [a, b, rest @ ..] => (a.saturating_mul(40).saturating_add(*b), rest),
            [a] => (a.saturating_mul(40), &[][..]),
            [] => (0, &[][..]),
        };
        push_base128(&mut out, first);
        for a in rest {
            push_base128(&mut out, *a);
        }
        out
    }

    /// DER OBJECT IDENTIFIER.
    pub fn to_der(&self) -> Vec<u8> {
        derw::tlv(derw::tag::OID, &self.content())
    }

    /// Whether this OID lies under `prefix` (or is it).
    pub fn starts_with(&self, prefix: &PolicyOid) -> bool {
        self.arcs.starts_with(&prefix.arcs)
    }
}

impl std::fmt::Display for PolicyOid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s: Vec<String> = self.arcs.iter().map(|a| a.to_string()).collect();
        f.write_str(&s.join("."))
    }
}

fn push_base128(out: &mut Vec<u8>, v: u128) {
    // Seven bits per octet, most significant group first, all but the last with 0x80.
    let groups = (128 - v.leading_zeros()).div_ceil(7).max(1);
    for i in (0..groups).rev() {
        let g = ((v >> (7 * i)) & 0x7f) as u8;
        out.push(g | if i > 0 { 0x80 } else { 0 });
    }
}

/// One encoded Extension: SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }.
pub fn extension(o: &Oid, critical: bool, value: &[u8]) -> Vec<u8> {
    let id = derw::oid(o);
    let val = derw::octets(value);
    if critical {
        derw::seq(&[&id, &derw::boolean(true), &val])
    } else {
        derw::seq(&[&id, &val])
    }
}

/// basicConstraints (§4.2.1.9): critical in CA certificates.
pub fn basic_constraints_ca(path_len: Option<u8>) -> Vec<u8> {
    let v = match path_len {
        Some(n) => derw::seq(&[&derw::boolean(true), &derw::uint_u64(n.into())]),
        None => derw::seq(&[&derw::boolean(true)]),
    };
    extension(&oid::EXT_BASIC_CONSTRAINTS, true, &v)
}

/// keyUsage (§4.2.1.3), always critical in this profile.
pub fn key_usage(bits: &[u8]) -> Vec<u8> {
    extension(&oid::EXT_KEY_USAGE, true, &derw::named_bits(bits))
}

/// extKeyUsage (§4.2.1.12), non-critical.
pub fn ext_key_usage(purposes: &[Oid]) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = purposes.iter().map(derw::oid).collect();
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    extension(&oid::EXT_EXT_KEY_USAGE, false, &derw::seq(&refs))
}

/// The key identifier of RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey
/// BIT STRING's value.
pub fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>, PkiError> {
    let key = crate::csr::subject_public_key(spki_der)
        .map_err(|_| PkiError::BadInput("SubjectPublicKeyInfo has no key".into()))?;
    Ok(sha1::Sha1::digest(key).to_vec())
}

/// subjectKeyIdentifier (§4.2.1.2).
pub fn subject_key_id(kid: &[u8]) -> Vec<u8> {
    extension(&oid::EXT_SUBJECT_KEY_ID, false, &derw::octets(kid))
}

/// authorityKeyIdentifier (§4.2.1.1) with keyIdentifier only.
pub fn authority_key_id(kid: &[u8]) -> Vec<u8> {
    let v = derw::seq(&[&derw::implicit_prim(0, kid)]);
    extension(&oid::EXT_AUTHORITY_KEY_ID, false, &v)
}

/// A GeneralName uniformResourceIdentifier.
fn uri(u: &str) -> Vec<u8> {
    derw::implicit_prim(6, u.as_bytes())
}

/// The DistributionPoint SEQUENCE for one URL: distributionPoint fullName URI.
pub fn distribution_point(url: &str) -> Vec<u8> {
    derw::seq(&[&derw::explicit(0, &derw::implicit_cons(0, &uri(url)))])
}

/// cRLDistributionPoints (§4.2.1.13) with one HTTP URL.
pub fn crl_distribution_points(url: &str) -> Vec<u8> {
    let v = derw::seq(&[&distribution_point(url)]);
    extension(&oid::EXT_CRL_DP, false, &v)
}

/// authorityInfoAccess (§4.2.2.1): OCSP first, then caIssuers, each optional.
pub fn authority_info_access(ocsp: Option<&str>, ca_issuers: Option<&str>) -> Vec<u8> {
    let mut ads = Vec::new();
    if let Some(o) = ocsp {
        ads.push(derw::seq(&[&derw::oid(&oid::AD_OCSP), &uri(o)]));
    }
    if let Some(c) = ca_issuers {
        ads.push(derw::seq(&[&derw::oid(&oid::AD_CA_ISSUERS), &uri(c)]));
    }
    let refs: Vec<&[u8]> = ads.iter().map(|p| p.as_slice()).collect();
    extension(&oid::EXT_AUTHORITY_INFO_ACCESS, false, &derw::seq(&refs))
}

/// certificatePolicies (§4.2.1.4), each policy with the CPS URI qualifier.
pub fn certificate_policies(policies: &[PolicyOid], cps_uri: Option<&str>) -> Vec<u8> {
    let infos: Vec<Vec<u8>> = policies
        .iter()
        .map(|p| match cps_uri {
            Some(u) => {
                let q = derw::seq(&[&derw::oid(&oid::QT_CPS), &derw::ia5(u)]);
                derw::seq(&[&p.to_der(), &derw::seq(&[&q])])
            }
            None => derw::seq(&[&p.to_der()]),
        })
        .collect();
    let refs: Vec<&[u8]> = infos.iter().map(|p| p.as_slice()).collect();
    extension(&oid::EXT_CERT_POLICIES, false, &derw::seq(&refs))
}

/// One subjectAltName entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AltName {
    /// dNSName.
    Dns(String),
    /// iPAddress (4 or 16 octets).
    Ip(std::net::IpAddr),
    /// directoryName (a DER Name), e.g. the holder's kanji name (DESIGN §4).
    Directory(Vec<u8>),
}

/// subjectAltName (§4.2.1.6); critical when the subject is empty.
pub fn subject_alt_name(names: &[AltName], critical: bool) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = names
        .iter()
        .map(|n| match n {
            AltName::Dns(d) => derw::implicit_prim(2, d.as_bytes()),
            AltName::Ip(std::net::IpAddr::V4(a)) => derw::implicit_prim(7, &a.octets()),
            AltName::Ip(std::net::IpAddr::V6(a)) => derw::implicit_prim(7, &a.octets()),
            AltName::Directory(name) => derw::explicit(4, name),
        })
        .collect();
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    extension(&oid::EXT_SUBJECT_ALT_NAME, critical, &derw::seq(&refs))
}

/// subjectDirectoryAttributes (§4.2.1.8) carrying hcRole (ISO 17090-3, JAHIS HPKI):
/// `HCActorData ::= SET OF HCActor`, `HCActor ::= SEQUENCE { codedData [0] EXPLICIT
/// CodedData }`, `CodedData ::= SEQUENCE { codingSchemeReference OID, codeDataValue
/// UTF8String }`. Non-critical; only for a qualification checked against a licence.
pub fn hc_role(role: &str) -> Vec<u8> {
    let coded = derw::seq(&[&derw::oid(&oid::HPKI_ROLE_SCHEME), &derw::utf8(role)]);
    let actor = derw::seq(&[&derw::explicit(0, &coded)]);
    let actor_data = derw::constructed(derw::tag::SET, &[&actor]);
    let attr = derw::seq(&[
        &derw::oid(&oid::HC_ROLE),
        &derw::constructed(derw::tag::SET, &[&actor_data]),
    ]);
    extension(
        &oid::EXT_SUBJECT_DIRECTORY_ATTRIBUTES,
        false,
        &derw::seq(&[&attr]),
    )
}

/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): NULL, non-critical.
pub fn ocsp_nocheck() -> Vec<u8> {
    extension(&oid::EXT_OCSP_NOCHECK, false, &derw::null())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn design4_uuid_policy_arc_round_trips_with_32_bit_arcs() {
        let u = uuid::Uuid::from_u128(0xf81d4fae_7dec_11d0_a765_00a0c91e6bf6);
        let p = PolicyOid::from_uuid(u).child(1);
        assert_eq!(
            p.to_string(),
            "1.2.840.113556.1.8000.2554.63517.20398.32236.4560.42853.41161.1993718.1"
        );
        assert!(p.arcs_fit_32_bits());
        assert!(
            !PolicyOid::parse("2.25.329800735698586629295641978511506172918")
                .unwrap()
                .arcs_fit_32_bits()
        );
        assert_eq!(
            crate::derr::oid_to_string(&p.content()).unwrap(),
            p.to_string()
        );
        assert_eq!(PolicyOid::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn rfc5280_4_2_1_2_key_identifier_is_sha1_of_key_bits() {
        let (k, _) = crate::keys::SoftwareKey::generate(crate::keys::KeyAlgorithm::P256).unwrap();
        use crate::keys::Signer;
        assert_eq!(key_identifier(k.spki_der()).unwrap().len(), 20);
    }
}
