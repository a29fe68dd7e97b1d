//! A CRL file, as kmn-pki reads a published one back (the publisher, `kmn repo
//! rebuild`) and as kmn-verify reads it (and uses it in a path validation).
#![no_main]

use libfuzzer_sys::fuzz_target;

const ROOT: &[u8] = include_bytes!("../../crates/kmn-verify/tests/data/root.pem");
const INTER: &[u8] = include_bytes!("../../crates/kmn-verify/tests/data/inter.pem");

fuzz_target!(|data: &[u8]| {
    let (Ok(root), Ok(inter)) = (
        kmn_verify::load_pem_or_der_bundle(ROOT),
        kmn_verify::load_pem_or_der_bundle(INTER),
    ) else {
        return;
    };
    let Some(leaf) = inter.first() else { return };
    if let Ok(head) = kmn_pki::parse::crl(data) {
        let _ = head.number();
        if let Ok(c) = kmn_pki::parse::cert(leaf) {
            let _ = kmn_pki::crl::read_back(data, c.tbs.spki);
        }
    }
    let _ = kmn_pki::crl::number_unchecked(data);
    if kmn_verify::load_crls(data).is_err() {
        return;
    }
    let mut opts = kmn_verify::VerifyOptions::new(
        time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
    );
    opts.check_revocation = true;
    let _ = kmn_verify::verify(leaf, &root, &[], &[data.to_vec()], &opts);
});
