//! A certificate file, as kmn-pki and kmn-verify read it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(der) = kmn_pki::cert::pem_or_der(data, "CERTIFICATE")
        && let Ok(c) = kmn_pki::parse::cert(&der)
    {
        let _ = kmn_pki::parse::key_info(c.tbs.spki);
        let _ = kmn_pki::parse::name_attributes(c.tbs.subject);
        let _ = c.tbs.serial_hex();
        let _ = c.tbs.subject_text();
    }
    let _ = kmn_pki::parse::tbs(data);
    if let Ok(certs) = kmn_verify::load_pem_or_der_bundle(data) {
        let opts = kmn_verify::VerifyOptions::new(time_now());
        for c in &certs {
            let _ = kmn_verify::verify(c, &certs, &certs, &[], &opts);
        }
    }
});

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)
}
