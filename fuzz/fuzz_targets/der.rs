//! kmn-pki's DER reader, walking every constructed element and decoding every OID.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut stack = vec![data];
    while let Some(content) = stack.pop() {
        let Ok(children) = kmn_pki::derr::children(content) else {
            continue;
        };
        for t in children {
            if t.tag == 0x06 {
                let _ = kmn_pki::derr::oid_to_string(t.content);
            } else if t.tag & 0x20 != 0 {
                stack.push(t.content);
            }
            let _ = kmn_pki::parse::extension(t);
            let _ = kmn_pki::parse::time_field(&t);
        }
    }
});
