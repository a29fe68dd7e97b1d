//! An OCSP response as a relying party reads it (kmn-verify's RFC 6960 check: the
//! OCSPResponse and BasicOCSPResponse structure, the responder, the signature, the CertID
//! and the times), and the same bytes as a certificate through the credential readers
//! (hcRole, the card's facility code and holder id, the OCSP URLs of authorityInfoAccess).
//! Issue #11.
#![no_main]

use libfuzzer_sys::fuzz_target;

const INTER: &[u8] = include_bytes!("../../crates/kmn-verify/tests/data/inter.pem");
const ALICE: &[u8] = include_bytes!("../../crates/kmn-verify/tests/data/alice.pem");

fuzz_target!(|data: &[u8]| {
    let (Ok(inter), Ok(alice)) = (
        kmn_verify::load_pem_or_der_bundle(INTER),
        kmn_verify::load_pem_or_der_bundle(ALICE),
    ) else {
        return;
    };
    let (Some(inter), Some(alice)) = (inter.first(), alice.first()) else {
        return;
    };
    let at = 1_900_000_000;
    let _ = kmn_verify::check_ocsp_response(data, alice, inter, at);
    // The same bytes as the certificate asked about, and as its issuer.
    let _ = kmn_verify::check_ocsp_response(data, data, inter, at);
    let _ = kmn_verify::ocsp_request(data, inter, kmn_verify::OcspHash::Sha256);
    let _ = kmn_verify::ocsp_urls(data);
    let _ = kmn_verify::hc_role(data);
    let _ = kmn_verify::kmn_card_identity(data);
});
