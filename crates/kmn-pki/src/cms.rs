//! CMS SignedData (RFC 5652 §5), written with [`crate::derw`] and read with
//! [`crate::derr`]: one signer, identified by issuer and serial number, with the
//! content-type, message-digest and signing-time signed attributes, and the signer's
//! certificate (and its issuing CA's) in `certificates` — so that `openssl cms -verify`
//! checks it with the root alone. Used for the audit log's checkpoints
//! ([`crate::checkpoint`], eContentType id-data, [`sign`]) and the signed revocation
//! receipts ([`crate::receipt`], their own eContentType, [`sign_typed`]): the same key
//! signs both, and the eContentType — covered by the signature through the content-type
//! attribute — tells them apart.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use sha2::Digest;
use time::OffsetDateTime;

use crate::derr::{self, Tlv};
use crate::derw::{self, tag};
use crate::keys::{SignatureAlgorithm, Signer};
use crate::{PkiError, oid, parse};

fn bad(what: &str) -> PkiError {
    PkiError::BadInput(format!("malformed CMS SignedData: {what}"))
}

/// The digest a signature algorithm hashes with: (AlgorithmIdentifier DER, digest).
fn digest_for(alg: SignatureAlgorithm, data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    match alg {
        SignatureAlgorithm::EcdsaSha384 => (
            derw::seq(&[&derw::oid(&oid::SHA384)]),
            sha2::Sha384::digest(data).to_vec(),
        ),
        SignatureAlgorithm::EcdsaSha256 | SignatureAlgorithm::RsaPkcs1Sha256 => (
            derw::seq(&[&derw::oid(&oid::SHA256)]),
            sha2::Sha256::digest(data).to_vec(),
        ),
    }
}

/// A DER SET OF: the elements sorted by their encodings (X.690 §11.6).
fn set_of(mut elements: Vec<Vec<u8>>) -> Vec<u8> {
    elements.sort();
    let refs: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
    derw::constructed(tag::SET, &refs)
}

fn attribute(oid: &const_oid::ObjectIdentifier, value: &[u8]) -> Vec<u8> {
    derw::seq(&[&derw::oid(oid), &derw::constructed(tag::SET, &[value])])
}

/// Signs `content` as a CMS SignedData (ContentInfo, DER) of eContentType id-data with
/// `signer`, whose certificate is `signer_cert`; `chain` adds certificates (the issuing
/// CA's) to the `certificates` field. `signing_time` becomes the signingTime attribute.
pub fn sign(
    content: &[u8],
    signer_cert: &[u8],
    chain: &[&[u8]],
    signer: &dyn Signer,
    signing_time: OffsetDateTime,
) -> Result<Vec<u8>, PkiError> {
    sign_typed(
        &oid::CMS_DATA,
        content,
        signer_cert,
        chain,
        signer,
        signing_time,
    )
}

/// [`sign`] with the eContentType `content_type` (also the content-type signed
/// attribute). The SignedData's version is 1 for id-data and 3 for any other type
/// (RFC 5652 §5.1).
pub fn sign_typed(
    content_type: &const_oid::ObjectIdentifier,
    content: &[u8],
    signer_cert: &[u8],
    chain: &[&[u8]],
    signer: &dyn Signer,
    signing_time: OffsetDateTime,
) -> Result<Vec<u8>, PkiError> {
    let cert = parse::cert(signer_cert)?;
    if cert.tbs.spki != signer.spki_der() {
        return Err(PkiError::Key(
            "the signing key does not match the signer's certificate".into(),
        ));
    }
    let alg = signer.signature_algorithm();
    let (digest_alg, digest) = digest_for(alg, content);
    let signed_attrs = set_of(vec![
        attribute(&oid::CMS_CONTENT_TYPE, &derw::oid(content_type)),
        attribute(&oid::CMS_MESSAGE_DIGEST, &derw::octets(&digest)),
        attribute(&oid::CMS_SIGNING_TIME, &derw::time(signing_time)),
    ]);
    // The signature covers the attributes' DER with the SET tag (RFC 5652 §5.4).
    let signature = signer.sign(&signed_attrs)?;
    let attrs_content = derr::read_one(&signed_attrs, tag::SET)?.content;
    let sid = derw::seq(&[cert.tbs.issuer, &derw::uint(cert.tbs.serial)]);
    let signer_info = derw::seq(&[
        &derw::uint_u64(1),
        &sid,
        &digest_alg,
        &derw::implicit_cons(0, attrs_content),
        &alg.algorithm_identifier(),
        &derw::octets(&signature),
    ]);
    let mut certs: Vec<Vec<u8>> = vec![signer_cert.to_vec()];
    certs.extend(chain.iter().map(|c| c.to_vec()));
    certs.sort();
    certs.dedup();
    let cert_refs: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
    let certificates = derw::constructed(0xa0, &cert_refs);
    let encap = derw::seq(&[
        &derw::oid(content_type),
        &derw::explicit(0, &derw::octets(content)),
    ]);
    let version = if *content_type == oid::CMS_DATA { 1 } else { 3 };
    let signed_data = derw::seq(&[
        &derw::uint_u64(version),
        &set_of(vec![digest_alg.clone()]),
        &encap,
        &certificates,
        &set_of(vec![signer_info]),
    ]);
    Ok(derw::seq(&[
        &derw::oid(&oid::CMS_SIGNED_DATA),
        &derw::explicit(0, &signed_data),
    ]))
}

/// A SignedData whose signature verified.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The eContentType (the content octets of its OBJECT IDENTIFIER).
    pub content_type: Vec<u8>,
    /// The encapsulated content.
    pub content: Vec<u8>,
    /// The signer's certificate (DER), found by issuer and serial number.
    pub signer_cert: Vec<u8>,
    /// Every certificate the SignedData carries (the signer's included).
    pub certificates: Vec<Vec<u8>>,
    /// The signingTime attribute.
    pub signing_time: Option<OffsetDateTime>,
}

impl Verified {
    /// Whether the eContentType is `o`.
    pub fn content_type_is(&self, o: &const_oid::ObjectIdentifier) -> bool {
        self.content_type == o.as_bytes()
    }
}

fn oid_is(t: &Tlv<'_>, o: &const_oid::ObjectIdentifier) -> bool {
    t.tag == tag::OID && t.content == o.as_bytes()
}

/// Reads a CMS SignedData (ContentInfo, DER) with one signer and checks it: the signer's
/// certificate is among `certificates`, the message digest matches the content, the
/// content type attribute is the eContentType, and the signature over the signed
/// attributes verifies with the certificate's key. Says nothing about whom the
/// certificate belongs to: the caller validates it.
pub fn verify(der: &[u8]) -> Result<Verified, PkiError> {
    let ci = derr::read_one(der, tag::SEQUENCE)?;
    let [ct, body] = derr::children_n::<2>(ci.content, "ContentInfo")?;
    if !oid_is(&ct, &oid::CMS_SIGNED_DATA) || body.tag != 0xa0 {
        return Err(bad("not a SignedData ContentInfo"));
    }
    let sd = derr::read_one(body.content, tag::SEQUENCE)?;
    let fields = derr::children(sd.content)?;
    let mut it = fields.iter().copied();
    fn next<'a>(it: &mut impl Iterator<Item = Tlv<'a>>, what: &str) -> Result<Tlv<'a>, PkiError> {
        it.next().ok_or_else(|| bad(&format!("{what} is missing")))
    }
    let _version = next(&mut it, "version")?;
    let _digest_algs = next(&mut it, "digestAlgorithms")?;
    let encap = next(&mut it, "encapContentInfo")?;
    let mut certificates = Vec::new();
    let mut t = next(&mut it, "signerInfos")?;
    if t.tag == 0xa0 {
        certificates = derr::children(t.content)?
            .iter()
            .map(|c| c.raw.to_vec())
            .collect();
        t = next(&mut it, "signerInfos")?;
    }
    if t.tag == 0xa1 {
        t = next(&mut it, "signerInfos")?;
    }
    if t.tag != tag::SET || it.next().is_some() {
        return Err(bad("unexpected fields"));
    }
    let [e_type, e_content] = derr::children_n::<2>(
        derr::read_one(encap.raw, tag::SEQUENCE)?.content,
        "encapContentInfo",
    )?;
    if e_type.tag != tag::OID || e_content.tag != 0xa0 {
        return Err(bad("the content is not encapsulated"));
    }
    let content = derr::read_one(e_content.content, tag::OCTET_STRING)?.content;
    let [si] = derr::children_n::<1>(t.content, "signerInfos")?;
    let si_f = derr::children(derr::read_one(si.raw, tag::SEQUENCE)?.content)?;
    let [_v, sid, digest_alg, attrs, sig_alg, sig] = <[Tlv<'_>; 6]>::try_from(si_f)
        .map_err(|_| bad("a SignerInfo without signed attributes or with unsigned ones"))?;
    if attrs.tag != 0xa0 || sig.tag != tag::OCTET_STRING {
        return Err(bad("the SignerInfo has no signed attributes"));
    }
    let [sid_issuer, sid_serial] =
        derr::children_n::<2>(derr::read_one(sid.raw, tag::SEQUENCE)?.content, "sid")?;
    let signer_cert = certificates
        .iter()
        .find(|c| {
            parse::cert(c)
                .map(|p| p.tbs.issuer == sid_issuer.raw && p.tbs.serial == sid_serial.content)
                .unwrap_or(false)
        })
        .cloned()
        .ok_or_else(|| bad("the signer's certificate is not included"))?;
    let parsed = parse::cert(&signer_cert)?;
    let [d_oid] = derr::children_n::<1>(
        derr::read_one(digest_alg.raw, tag::SEQUENCE)?.content,
        "digestAlgorithm",
    )?;
    let digest = if oid_is(&d_oid, &oid::SHA256) {
        sha2::Sha256::digest(content).to_vec()
    } else if oid_is(&d_oid, &oid::SHA384) {
        sha2::Sha384::digest(content).to_vec()
    } else {
        return Err(bad("unsupported digest algorithm"));
    };
    let mut content_type_ok = false;
    let mut digest_ok = false;
    let mut signing_time = None;
    for a in derr::children(attrs.content)? {
        let [a_oid, values] =
            derr::children_n::<2>(derr::read_one(a.raw, tag::SEQUENCE)?.content, "Attribute")?;
        let [v] = derr::children_n::<1>(values.content, "attribute values")?;
        if oid_is(&a_oid, &oid::CMS_CONTENT_TYPE) {
            content_type_ok = v.raw == e_type.raw;
        } else if oid_is(&a_oid, &oid::CMS_MESSAGE_DIGEST) {
            digest_ok = v.tag == tag::OCTET_STRING && v.content == digest.as_slice();
        } else if oid_is(&a_oid, &oid::CMS_SIGNING_TIME) {
            signing_time = Some(parse::time_field(&v)?.at);
        }
    }
    if !content_type_ok {
        return Err(bad("the content-type attribute is missing or wrong"));
    }
    if !digest_ok {
        return Err(PkiError::BadInput(
            "the CMS message digest does not match the content: the content was altered".into(),
        ));
    }
    let mut signed = Vec::with_capacity(attrs.raw.len());
    derw::write_tlv(&mut signed, tag::SET, attrs.content);
    crate::csr::verify_signature(parsed.tbs.spki, sig_alg.raw, &signed, sig.content).map_err(
        |_| PkiError::BadInput("the CMS signature does not verify with the signer's key".into()),
    )?;
    Ok(Verified {
        content_type: e_type.content.to_vec(),
        content: content.to_vec(),
        signer_cert,
        certificates,
        signing_time,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::keys::{KeyAlgorithm, SoftwareKey};

    /// A self-signed stand-in certificate for a key (only the fields `sign` reads).
    fn cert_for(key: &SoftwareKey) -> Vec<u8> {
        let name = derw::seq(&[&derw::constructed(
            tag::SET,
            &[&derw::seq(&[
                &derw::oid(&oid::AT_COMMON_NAME),
                &derw::utf8("t"),
            ])],
        )]);
        let t = time::macros::datetime!(2026-01-01 0:00 UTC);
        let tbs = derw::seq(&[
            &derw::explicit(0, &derw::uint_u64(2)),
            &derw::uint(&[0x11; 9]),
            &key.signature_algorithm().algorithm_identifier(),
            &name,
            &derw::seq(&[&derw::time(t), &derw::time(t + time::Duration::days(1))]),
            &name,
            key.spki_der(),
        ]);
        let sig = key.sign(&tbs).unwrap();
        crate::cert::assemble(&tbs, key.signature_algorithm(), &sig)
    }

    #[test]
    fn rfc5652_signed_data_round_trips_and_detects_changes() {
        for alg in [KeyAlgorithm::P256, KeyAlgorithm::P384] {
            let (key, _) = SoftwareKey::generate(alg).unwrap();
            let cert = cert_for(&key);
            let at = time::macros::datetime!(2026-06-01 12:00 UTC);
            let der = sign(b"checkpoint", &cert, &[], &key, at).unwrap();
            let v = verify(&der).unwrap();
            assert_eq!(v.content, b"checkpoint");
            assert!(v.content_type_is(&oid::CMS_DATA));
            assert_eq!(v.signer_cert, cert);
            assert_eq!(v.signing_time, Some(at));
            // One changed octet of the content: the digest no longer matches.
            let pos = der.windows(10).position(|w| w == b"checkpoint").unwrap();
            let mut bad = der.clone();
            bad[pos] ^= 1;
            assert!(verify(&bad).is_err());
        }
    }

    /// RFC 5652 §5.1: another eContentType makes a version 3 SignedData, and the type is
    /// covered by the signature (the content-type attribute).
    #[test]
    fn rfc5652_typed_content_is_version_3_and_its_type_is_signed() {
        let (key, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let cert = cert_for(&key);
        let at = time::macros::datetime!(2026-12-07 12:00 UTC);
        let der = sign_typed(
            &oid::CT_REVOCATION_RECEIPT,
            b"receipt",
            &cert,
            &[],
            &key,
            at,
        )
        .unwrap();
        let v = verify(&der).unwrap();
        assert!(v.content_type_is(&oid::CT_REVOCATION_RECEIPT));
        assert!(!v.content_type_is(&oid::CMS_DATA));
        // version 3 right after the [0] of the ContentInfo and the SignedData's SEQUENCE.
        let sd = derr::read_one(&der, tag::SEQUENCE).unwrap();
        let [_, body] = derr::children_n::<2>(sd.content, "ci").unwrap();
        let sd = derr::read_one(body.content, tag::SEQUENCE).unwrap();
        assert_eq!(derr::children(sd.content).unwrap()[0].content, [3]);
        // Relabelling the eContentType (its last arc 1 → 2; the first occurrence is the
        // encapContentInfo's) breaks the match with the signed content-type attribute.
        let t = oid::CT_REVOCATION_RECEIPT.as_bytes();
        let pos = der.windows(t.len()).position(|w| w == t).unwrap();
        let mut relabelled = der.clone();
        relabelled[pos + t.len() - 1] = 2;
        let e = verify(&relabelled).unwrap_err().to_string();
        assert!(e.contains("content-type"), "{e}");
        assert!(verify(&relabelled).is_err());
    }
}
