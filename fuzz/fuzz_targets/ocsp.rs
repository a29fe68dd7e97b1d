//! An OCSP request as the responder reads it (POST body, or GET after base64), then the
//! issuer match; and the same bytes as a response read back (issue 10 item 5).
#![no_main]

use libfuzzer_sys::fuzz_target;

const ROOT: &[u8] = include_bytes!("../../crates/kmn-verify/tests/data/root.pem");

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = kmn_pki::ocsp::parse_request(data) {
        let _ = r.cert_id.serial_hex();
        if let Ok(certs) = kmn_verify::load_pem_or_der_bundle(ROOT)
            && let Some(root) = certs.first()
            && let Ok(issuer) = kmn_pki::ocsp::IssuerHashes::from_cert(root)
        {
            let _ = issuer.matches(&r.cert_id);
        }
    }
    let _ = kmn_pki::ocsp::parse_response(data);
});
