//! A CSR as `kmn cert issue --csr` and the station endpoint read it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = kmn_pki::csr::parse_and_verify(data) {
        let _ = kmn_pki::name::DistinguishedName::from_der_for_profile(&v.subject_der);
        let _ = kmn_pki::lint::lint_key(&v.spki_der);
        let _ = kmn_pki::ext::key_identifier(&v.spki_der);
    }
    // The pieces on their own (a signature check stops most inputs before them).
    let _ = kmn_pki::parse::key_info(data);
    let _ = kmn_pki::name::DistinguishedName::from_der_for_profile(data);
});
