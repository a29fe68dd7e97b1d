//! The hostile JSON corpus (`tests/hostile/json/`, issue 9 item 5), replayed on stable.
//!
//! Every request body type of the API has a folder named after it. Each file is decoded
//! as that type exactly as the handlers decode it (axum's `Json::from_bytes`, then
//! [`json_rejection`] for a refusal) and must give the answer its name starts with:
//! `ok-` accepted, `400-` refused as unreadable JSON (`E_BAD_INPUT`), `422-` refused with
//! a field-level `E_VALIDATION` that names a field. Every file is also decoded as every
//! other type: never a panic. The fuzz target `json` (`fuzz/`) starts from these files.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use axum::Json;
use axum::http::StatusCode;
use kmn_api_types::{BodyVisitor, visit_all};
use serde::de::DeserializeOwned;

use super::error::json_rejection;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile/json")
}

/// The answer to a body: accepted, or the refusal's status, code and named fields.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Accepted,
    Refused {
        status: StatusCode,
        code: String,
        fields: Vec<String>,
        message: String,
    },
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Answer {
    match Json::<T>::from_bytes(body) {
        Ok(_) => Answer::Accepted,
        Err(r) => {
            let resp = json_rejection(r);
            let status = resp.status();
            let bytes = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(axum::body::to_bytes(resp.into_body(), 1 << 20))
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            Answer::Refused {
                status,
                code: v["code"].as_str().unwrap_or_default().into(),
                fields: v["fields"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|f| f["field"].as_str().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
                message: v["message"].as_str().unwrap_or_default().into(),
            }
        }
    }
}

/// A corpus file: its folder (the type it is written for), its name, its bytes.
struct File {
    ty: String,
    name: String,
    bytes: Vec<u8>,
}

fn files() -> Vec<File> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(corpus_dir()).unwrap() {
        let d = d.unwrap().path();
        if !d.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&d).unwrap() {
            let f = f.unwrap().path();
            out.push(File {
                ty: d.file_name().unwrap().to_string_lossy().into_owned(),
                name: f.file_name().unwrap().to_string_lossy().into_owned(),
                bytes: std::fs::read(&f).unwrap(),
            });
        }
    }
    out.sort_by(|a, b| (&a.ty, &a.name).cmp(&(&b.ty, &b.name)));
    out
}

struct Replay {
    files: Vec<File>,
    types: Vec<&'static str>,
    failures: Vec<String>,
}

impl BodyVisitor for Replay {
    fn visit<T: DeserializeOwned + 'static>(&mut self, name: &'static str) {
        self.types.push(name);
        let (mut accepted, mut refused) = (0, 0);
        for f in &self.files {
            let label = format!("{}/{} as {name}", f.ty, f.name);
            let answer = match catch_unwind(AssertUnwindSafe(|| decode::<T>(&f.bytes))) {
                Ok(a) => a,
                Err(_) => {
                    self.failures.push(format!("{label}: PANICKED"));
                    continue;
                }
            };
            if f.ty != name {
                continue;
            }
            let expect = f.name.split('-').next().unwrap_or_default();
            let ok = match (&answer, expect) {
                (Answer::Accepted, "ok") => {
                    accepted += 1;
                    true
                }
                (
                    Answer::Refused {
                        status,
                        code,
                        message,
                        ..
                    },
                    "400",
                ) => {
                    refused += 1;
                    *status == StatusCode::BAD_REQUEST
                        && code == "E_BAD_INPUT"
                        && !message.is_ascii()
                }
                (
                    Answer::Refused {
                        status,
                        code,
                        fields,
                        message,
                    },
                    "422",
                ) => {
                    refused += 1;
                    *status == StatusCode::UNPROCESSABLE_ENTITY
                        && code == "E_VALIDATION"
                        && fields.len() == 1
                        && !fields.iter().any(|f| f.is_empty())
                        && !message.is_ascii()
                }
                _ => false,
            };
            if !ok {
                self.failures
                    .push(format!("{label}: expected {expect}, got {answer:?}"));
            }
        }
        if accepted == 0 || refused == 0 {
            self.failures.push(format!(
                "{name}: the corpus needs at least one accepted and one refused body (has {accepted} and {refused})"
            ));
        }
    }
}

#[test]
fn issue9_hostile_json_bodies_get_their_documented_answer_and_never_panic() {
    let mut r = Replay {
        files: files(),
        types: Vec::new(),
        failures: Vec::new(),
    };
    assert!(
        r.files.len() >= 200,
        "the corpus is missing: {}",
        corpus_dir().display()
    );
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    visit_all(&mut r);
    std::panic::set_hook(hook);
    for f in &r.files {
        if !r.types.contains(&f.ty.as_str()) {
            r.failures.push(format!(
                "{}/{}: no request body type is called {}",
                f.ty, f.name, f.ty
            ));
        }
    }
    assert!(
        r.failures.is_empty(),
        "{} failure(s):\n{}",
        r.failures.len(),
        r.failures.join("\n")
    );
}

#[test]
fn issue9_a_422_names_the_offending_field() {
    let body = br#"{"kind":"terms","version":"demo-1","given_by":"x","role":"supervisor"}"#;
    match decode::<kmn_api_types::ConsentIn>(body) {
        Answer::Refused { fields, .. } => assert_eq!(fields, ["role"]),
        a => panic!("{a:?}"),
    }
    let body = br#"{"version":1,"deficiencies":[{"field":"a","problem":"b","action":7}]}"#;
    match decode::<kmn_api_types::ReturnIn>(body) {
        Answer::Refused { fields, .. } => assert_eq!(fields, ["deficiencies[0].action"]),
        a => panic!("{a:?}"),
    }
}
