//! The API's JSON request bodies (kmn-api-types), decoded as the handlers decode them:
//! axum's `Json::from_bytes` (serde_json + serde_path_to_error), every input as every type.
#![no_main]

use kmn_api_types::{BodyVisitor, visit_all};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

struct Decode<'a>(&'a [u8]);

impl BodyVisitor for Decode<'_> {
    fn visit<T: DeserializeOwned + 'static>(&mut self, _name: &'static str) {
        if let Err(r) = axum::Json::<T>::from_bytes(self.0) {
            // What json_rejection reads to name the field.
            let _ = r.body_text();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    visit_all(&mut Decode(data));
});
