//! A signed revocation receipt as `kmn receipt verify` reads it (第23条3, issue 10
//! item 6): the CMS SignedData, its eContentType, the record; and the same bytes as a
//! bare record.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = kmn_pki::cms::verify(data)
        && v.content_type_is(&kmn_pki::oid::CT_REVOCATION_RECEIPT)
    {
        let _ = kmn_pki::receipt::RevocationReceipt::from_der(&v.content);
    }
    if let Ok(r) = kmn_pki::receipt::RevocationReceipt::from_der(data) {
        let _ = r.serial_hex();
        let _ = r.to_der();
    }
});
