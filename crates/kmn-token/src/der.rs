//! The bits of DER this crate builds: SubjectPublicKeyInfo from PKCS#11 attributes,
//! ECDSA-Sig-Value from raw `r‖s`, and the PKCS #1 DigestInfo.

use kmn_pki::derw;

use crate::TokenError;

/// DER of the namedCurve OID for P-256 (CKA_EC_PARAMS).
pub(crate) const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the namedCurve OID for P-384 (CKA_EC_PARAMS).
pub(crate) const P384_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// RSA SubjectPublicKeyInfo (rsaEncryption, NULL parameters).
pub(crate) fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let key = derw::seq(&[&derw::uint(modulus), &derw::uint(exponent)]);
    let alg = derw::seq(&[&derw::oid(&kmn_pki::oid::RSA_ENCRYPTION), &derw::null()]);
    derw::seq(&[&alg, &derw::bits(&key)])
}

/// EC SubjectPublicKeyInfo (id-ecPublicKey with a named curve).
pub(crate) fn ec_spki(curve_params_der: &[u8], point: &[u8]) -> Vec<u8> {
    let alg = derw::seq(&[&derw::oid(&kmn_pki::oid::EC_PUBLIC_KEY), curve_params_der]);
    derw::seq(&[&alg, &derw::bits(point)])
}

/// The uncompressed point from CKA_EC_POINT, which PKCS#11 defines as a DER OCTET STRING
/// (SoftHSM and most cards); some modules return the bare point instead: both accepted.
pub(crate) fn ec_point(attr: &[u8], field_len: usize) -> Result<Vec<u8>, TokenError> {
    let bare_len = 1 + 2 * field_len;
    if attr.len() == bare_len && attr[0] == 0x04 {
        return Ok(attr.to_vec());
    }
    let inner = kmn_pki::derr::read_one(attr, derw::tag::OCTET_STRING)
        .map_err(|_| TokenError::BadInput("CKA_EC_POINT を解釈できません".into()))?;
    if inner.content.len() == bare_len && inner.content[0] == 0x04 {
        Ok(inner.content.to_vec())
    } else {
        Err(TokenError::BadInput(
            "CKA_EC_POINT が非圧縮形式の点ではありません".into(),
        ))
    }
}

/// Raw `r‖s` (CKM_ECDSA output) → DER ECDSA-Sig-Value.
pub(crate) fn ecdsa_raw_to_der(raw: &[u8]) -> Result<Vec<u8>, TokenError> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(TokenError::BadInput(format!(
            "ECDSA署名の長さが不正です（{}バイト）",
            raw.len()
        )));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    Ok(derw::seq(&[&derw::uint(r), &derw::uint(s)]))
}

/// DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// DigestInfo(SHA-256, digest) for CKM_RSA_PKCS.
pub(crate) fn digest_info_sha256(digest: &[u8]) -> Vec<u8> {
    let mut v = SHA256_DIGEST_INFO_PREFIX.to_vec();
    v.extend_from_slice(digest);
    v
}

pub(crate) fn sha256(msg: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, msg)
        .as_ref()
        .to_vec()
}

pub(crate) fn sha384(msg: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, msg)
        .as_ref()
        .to_vec()
}

/// Bit length of an unsigned big-endian integer.
pub(crate) fn bit_len(be: &[u8]) -> usize {
    let be: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
    match be.first() {
        None => 0,
        Some(b) => (be.len() - 1) * 8 + (8 - b.leading_zeros() as usize),
    }
}

/// Unsigned big-endian bytes without leading zeros.
pub(crate) fn strip_zeros(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|b| *b != 0).unwrap_or(be.len());
    &be[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_info_matches_the_rfc_prefix() {
        // The prefix is the DER of DigestInfo { sha256, NULL } with a 32-octet digest.
        let alg = derw::seq(&[&derw::oid(&kmn_pki::oid::SHA256), &derw::null()]);
        let want = derw::seq(&[&alg, &derw::octets(&[0xab; 32])]);
        assert_eq!(digest_info_sha256(&[0xab; 32]), want);
    }

    #[test]
    fn ec_point_accepts_wrapped_and_bare() {
        let mut bare = vec![0x04];
        bare.extend_from_slice(&[1u8; 64]);
        let wrapped = derw::octets(&bare);
        assert_eq!(ec_point(&wrapped, 32).unwrap(), bare);
        assert_eq!(ec_point(&bare, 32).unwrap(), bare);
        assert!(ec_point(&bare[..30], 32).is_err());
    }

    #[test]
    fn raw_ecdsa_converts_to_der_with_positive_integers() {
        let mut raw = vec![0x80u8; 32];
        raw.extend_from_slice(&[0x00, 0x01]);
        raw.extend_from_slice(&[0x7f; 30]);
        let der = ecdsa_raw_to_der(&raw).unwrap();
        assert_eq!(der[0], 0x30);
        // r gets a leading zero octet; s loses its leading zero.
        assert_eq!(&der[2..5], &[0x02, 33, 0x00]);
        assert_eq!(bit_len(&[0x00, 0x01, 0x00]), 9);
        assert_eq!(strip_zeros(&[0, 0, 5]), &[5]);
    }
}
