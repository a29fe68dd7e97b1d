//! docs/OPERATOR.ja.md runs as written (issue 12 item 2): every command of the guide's
//! ```sh blocks runs, in order, on a fresh data dir (`kmn ca init`, as docs/ADMIN.md
//! makes it), so the numbers the guide shows (A00000001, H00000001, C00000001, M00000001,
//! U000001) are the ones a reader following it gets; and every `kmn …` the prose quotes
//! names a real subcommand with real options.
//!
//! # The convention (what the test does beyond running the lines, and nothing more)
//!
//! * A ```sh block runs line by line through `bash -c` in a working directory of the test,
//!   `kmn` being this build's binary (first on `PATH`). A line ending in `\` continues on
//!   the next; blank lines and `#` comment lines are skipped. Every line is a `kmn`
//!   command or `export NAME=VALUE` (which sets the variable for the lines after it, as
//!   in the operator's shell). `KMN_ACTOR` is not set beforehand.
//! * Every line must exit 0, except a line whose trailing comment names an error code
//!   (`kmn … # → E_RULE`): it must exit 1 with that code on stderr.
//! * HTML comments starting `<!-- guide-test:` hold what a reader does not type, as
//!   directives (one per line) or a ```sh block (setup the reader need not see):
//!   - `skip: REASON` — the next block is not run (it needs what a fresh data dir lacks);
//!   - `apply FACILITY HOLDER KIND` — the facility's desk files and submits an
//!     application for the holder in the portal (5 years for a card);
//!   - `resubmit FACILITY APPLICATION` — the desk corrects a returned application and resubmits;
//!   - `blank-cards N` — N more blank cards are put in the reader;
//!   - `pin-files CARD` — the holder writes the PIN of the card's latest PIN mailer and
//!     two new PINs into `pins.txt` (current, new), `current.txt` and `new.txt` (mode 0600)
//!     — the PIN after the `pins.txt` change and the one after that.
//! * Substituted: the PKCS#11 module `/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so` is
//!   SoftHSM2 with the test's own token directory; the reader holds what a command needs:
//!   before a command with `--module`, personalised cards (labels `KMN …` other than
//!   `KMN blank`) are taken out except the one `--token-label` names, which is put back
//!   (a command that writes a blank card thus sees only blank cards); a `*.pdf` a command
//!   reads (not an `--out`) is made as a small PDF when missing. The SO-PIN master is given
//!   in `KMN_SO_PIN_MASTER` so that `blank-cards` can make cards personalization accepts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cards::{pin_from_mailer, softhsm, with_softhsm};
use crate::support::{Env, write_secret};

/// The module path the guide shows (Debian's OpenSC).
const OPENSC: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
const MASTER: &str = "0123456789abcdef0123456789abcdef";

#[derive(Debug)]
enum Step {
    /// A command line (continuations joined), with its line number in the guide.
    Run { line: String, at: usize },
    /// A `guide-test:` directive.
    Directive { words: Vec<String>, at: usize },
}

fn guide_text() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/OPERATOR.ja.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The guide's steps in order: the lines of its ```sh blocks (those inside `guide-test`
/// comments included, those after a `skip` left out) and its directives.
fn steps(doc: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let mut fence: Option<(String, bool)> = None; // (language, skipped)
    let mut in_test_comment = false;
    let mut skip_next = false;
    let mut pending = String::new();
    let mut pending_at = 0;
    for (i, raw) in doc.lines().enumerate() {
        let at = i + 1;
        let t = raw.trim();
        if let Some(rest) = t.strip_prefix("```") {
            match fence.take() {
                Some(_) => assert!(pending.is_empty(), "line {at}: a `\\` before the fence"),
                None => {
                    let lang = rest.trim().to_string();
                    if skip_next {
                        assert_eq!(lang, "sh", "line {at}: skip names a block that is not sh");
                    }
                    fence = Some((lang, std::mem::take(&mut skip_next)));
                }
            }
            continue;
        }
        if let Some((lang, skipped)) = &fence {
            if lang != "sh" || *skipped {
                continue;
            }
            if pending.is_empty() {
                pending_at = at;
            }
            if let Some(head) = t.strip_suffix('\\') {
                pending.push_str(head.trim());
                pending.push(' ');
                continue;
            }
            pending.push_str(t);
            let line = std::mem::take(&mut pending);
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                out.push(Step::Run {
                    line: line.to_string(),
                    at: pending_at,
                });
            }
            continue;
        }
        if in_test_comment {
            if t == "-->" {
                in_test_comment = false;
            } else if let Some(d) = t.strip_suffix("-->") {
                in_test_comment = false;
                directive(&mut out, &mut skip_next, d, at);
            } else {
                directive(&mut out, &mut skip_next, t, at);
            }
            continue;
        }
        if let Some(rest) = t.strip_prefix("<!-- guide-test:") {
            match rest.strip_suffix("-->") {
                Some(d) => directive(&mut out, &mut skip_next, d, at),
                None => {
                    in_test_comment = true;
                    directive(&mut out, &mut skip_next, rest, at);
                }
            }
        }
    }
    assert!(fence.is_none(), "a fence is not closed");
    out
}

/// One directive line; `skip:` with its reason (which may go on for lines) only sets the
/// flag, and prose after a directive word list is not allowed.
fn directive(out: &mut Vec<Step>, skip_next: &mut bool, text: &str, at: usize) {
    let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    let Some(first) = words.first() else { return };
    match first.as_str() {
        "skip:" => *skip_next = true,
        "apply" | "resubmit" | "blank-cards" | "pin-files" => {
            out.push(Step::Directive { words, at });
        }
        // A reason continuing from the line before, or a comment's description.
        _ => {}
    }
}

/// The error code a line's trailing comment says it fails with (`# → E_RULE`).
fn expected_code(line: &str) -> Option<String> {
    let (_, comment) = line.split_once(" #")?;
    comment
        .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .find(|w| w.starts_with("E_") && w.len() > 2)
        .map(str::to_string)
}

/// The value of `--token-label` on a line (quoted or not).
fn token_label(line: &str) -> Option<String> {
    let rest = line.split_once("--token-label ")?.1.trim_start();
    Some(match rest.strip_prefix('"') {
        Some(q) => q.split('"').next().unwrap_or_default().to_string(),
        None => rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
    })
}

/// The reader and its drawer: SoftHSM2 token directories in `tokens/` are in the reader;
/// those taken out wait in `drawer/`, by label.
struct Reader {
    conf: PathBuf,
    tokens: PathBuf,
    drawer: PathBuf,
    out: HashMap<String, PathBuf>,
}

impl Reader {
    /// (serial, label) of every initialised token in the reader.
    fn tokens(&self) -> Vec<(String, String)> {
        let o = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &self.conf)
            .arg("--show-slots")
            .output()
            .expect("softhsm2-util (Debian softhsm2)");
        let text = String::from_utf8_lossy(&o.stdout);
        let mut v = Vec::new();
        let mut serial = String::new();
        for l in text.lines().map(str::trim) {
            if let Some(s) = l.strip_prefix("Serial number:") {
                serial = s.trim().to_string();
            }
            if let Some(s) = l.strip_prefix("Label:") {
                let label = s.trim().to_string();
                if !serial.is_empty() && !label.is_empty() {
                    v.push((serial.clone(), label));
                }
            }
        }
        v
    }

    /// The token directory of a serial (SoftHSM2 names it by a UUID ending in the serial).
    fn dir_of(&self, serial: &str) -> PathBuf {
        std::fs::read_dir(&self.tokens)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.replace('-', "").ends_with(serial))
            })
            .unwrap_or_else(|| panic!("no token directory for serial {serial}"))
    }

    /// Before a command with `--module`: only `keep` of the personalised cards stays in.
    fn hold(&mut self, keep: Option<&str>) {
        for (serial, label) in self.tokens() {
            let personalised = label.starts_with("KMN ") && label != "KMN blank";
            if personalised && Some(label.as_str()) != keep {
                let dir = self.dir_of(&serial);
                let to = self.drawer.join(dir.file_name().unwrap());
                std::fs::rename(&dir, &to).unwrap();
                assert!(
                    self.out.insert(label.clone(), to).is_none(),
                    "two cards labelled {label}"
                );
            }
        }
        if let Some(l) = keep
            && let Some(from) = self.out.remove(l)
        {
            std::fs::rename(&from, self.tokens.join(from.file_name().unwrap())).unwrap();
        }
    }
}

/// A small valid PDF (one empty A4 page).
fn small_pdf(title: &str) -> Vec<u8> {
    let objs = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_string(),
        format!("<< /Title ({}) >>", title.escape_default()),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

struct Run {
    env: Env,
    work: PathBuf,
    module: String,
    reader: Reader,
    vars: Vec<(String, String)>,
    log: String,
}

impl Run {
    /// `bash -c line` in the working directory, with `kmn` on PATH and the test's env.
    fn bash(&self, line: &str) -> std::process::Output {
        let bin = Path::new(env!("CARGO_BIN_EXE_kmn")).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let base = self.env.cmd(&[]);
        let mut c = Command::new("bash");
        c.arg("-c").arg(line).current_dir(&self.work);
        for (k, v) in base.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.env_remove("KMN_ACTOR").env("PATH", path);
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c.output().expect("bash")
    }

    fn run_line(&mut self, line: &str, at: usize) {
        let expect = expected_code(line);
        let line = line.replace(OPENSC, &self.module);
        let first = line.split_whitespace().next().unwrap_or_default();
        assert!(
            first == "kmn" || first == "export",
            "guide line {at}: a ```sh block holds only kmn commands and export: {line}"
        );
        if let Some(assign) = line.strip_prefix("export ") {
            let name = assign.split('=').next().unwrap().trim().to_string();
            let o = self.bash(&format!("export {assign}; printf '%s' \"${name}\""));
            assert!(o.status.success(), "guide line {at}: {line}");
            let value = String::from_utf8(o.stdout).unwrap();
            self.vars.retain(|(k, _)| *k != name);
            self.vars.push((name, value));
            return;
        }
        if line.contains("--module") {
            self.reader.hold(token_label(&line).as_deref());
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            let w = w.trim_matches('"');
            if w.ends_with(".pdf") && (i == 0 || words[i - 1] != "--out") {
                let p = self.work.join(w);
                if !p.exists() {
                    std::fs::write(&p, small_pdf(w)).unwrap();
                }
            }
        }
        let o = self.bash(&line);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        self.log.push_str(&format!(
            "\n$ {line}    (guide line {at})\n{stdout}{stderr}"
        ));
        match expect {
            None => assert!(
                o.status.success(),
                "guide line {at} failed: {line}\n{stdout}{stderr}\n--- the run so far:{}",
                self.log
            ),
            Some(code) => {
                assert_eq!(
                    o.status.code(),
                    Some(1),
                    "guide line {at} should fail with {code}: {line}\n{stdout}{stderr}"
                );
                assert!(
                    stderr.contains(&format!("({code})")),
                    "guide line {at} should fail with {code}: {line}\n{stderr}"
                );
            }
        }
    }

    async fn directive(&mut self, words: &[String], at: usize) {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let desk = |facility: &str| {
            kmn_app::rights::CaAdmin::local(Some("窓口（ポータル）"))
                .registrar()
                .within(facility)
                .unwrap()
        };
        match w.as_slice() {
            ["apply", facility, holder, kind] => {
                let app = self.env.app().await;
                let a = kmn_app::ra::applications::create(
                    &app,
                    &desk(facility),
                    &kmn_app::ra::applications::ApplicationInput {
                        facility_code: facility.to_string(),
                        holder_id: holder.to_string(),
                        kind: kind.to_string(),
                        validity_years: Some(5),
                        ..Default::default()
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("guide line {at}: {e}"));
                kmn_app::ra::applications::act(
                    &app,
                    &desk(facility),
                    &a.id,
                    kmn_domain::ApplicationAction::Submit,
                    None,
                )
                .await
                .unwrap_or_else(|e| panic!("guide line {at}: {e}"));
            }
            ["resubmit", facility, id] => {
                let app = self.env.app().await;
                kmn_app::ra::applications::act(
                    &app,
                    &desk(facility),
                    id,
                    kmn_domain::ApplicationAction::Resubmit,
                    None,
                )
                .await
                .unwrap_or_else(|e| panic!("guide line {at}: {e}"));
            }
            ["blank-cards", n] => {
                crate::card_pins::blank_tokens(
                    &self.reader.conf,
                    &self.module,
                    MASTER,
                    n.parse().unwrap(),
                );
            }
            ["pin-files", card] => {
                let o = self.bash(&format!("kmn card show {card} --json"));
                assert!(o.status.success(), "guide line {at}");
                let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                let mailer = v["pin_mailers"]
                    .as_array()
                    .and_then(|m| m.last())
                    .and_then(|m| m["file_name"].as_str())
                    .unwrap_or_else(|| panic!("guide line {at}: no PIN mailer: {v}"));
                let (_, pin) = pin_from_mailer(
                    Path::new(mailer),
                    &[
                        v["card"]["holder_id"].as_str().unwrap(),
                        v["card"]["id"].as_str().unwrap(),
                    ],
                );
                let (first, second) = ("13572468", "24681357");
                write_secret(&self.work.join("pins.txt"), &format!("{pin}\n{first}\n"));
                write_secret(&self.work.join("current.txt"), first);
                write_secret(&self.work.join("new.txt"), second);
            }
            other => panic!("guide line {at}: unknown guide-test directive {other:?}"),
        }
    }
}

/// Every ```sh line of the guide runs as written on a fresh data dir, in order.
#[tokio::test]
async fn issue12_operator_guide_runs_as_written() {
    let Some(module) = softhsm() else { return };
    let (env, conf) = with_softhsm(Env::new());
    let env = env.env("KMN_SO_PIN_MASTER", MASTER);
    env.init(&[]);
    let work = env.path("work");
    let drawer = env.path("drawer");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&drawer).unwrap();
    let reader = Reader {
        conf,
        tokens: env.path("tokens"),
        drawer,
        out: HashMap::new(),
    };
    let mut run = Run {
        env,
        work,
        module: module.to_str().unwrap().to_string(),
        reader,
        vars: Vec::new(),
        log: String::new(),
    };
    let doc = guide_text();
    let steps = steps(&doc);
    let lines = steps
        .iter()
        .filter(|s| matches!(s, Step::Run { .. }))
        .count();
    assert!(lines > 40, "the guide's commands were not found: {steps:?}");
    for s in &steps {
        match s {
            Step::Run { line, at } => run.run_line(line, *at),
            Step::Directive { words, at } => run.directive(words, *at).await,
        }
    }

    // The whole run, for a reader of the test's output (`--nocapture`).
    eprintln!("{}", run.log);

    // What the guide says the run shows: the name given in KMN_ACTOR is in the review's
    // history, with the OS user beside it; the audit log's chain is whole.
    let o = run.bash("kmn application show A00000002");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("担当 一郎 (os:"), "{text}");
    let o = run.bash("kmn audit verify");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Every `kmn …` the guide's prose quotes (outside the blocks) names a subcommand that
/// exists and options that subcommand has.
#[test]
fn issue12_operator_guide_quotes_real_commands() {
    let doc = guide_text();
    let mut in_fence = false;
    let mut quoted = Vec::new();
    for (i, l) in doc.lines().enumerate() {
        if l.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for (j, span) in l.split('`').enumerate() {
            if j % 2 == 1 && span.starts_with("kmn ") {
                quoted.push((i + 1, span.to_string()));
            }
        }
    }
    assert!(quoted.len() > 20, "{quoted:?}");
    let env = Env::new();
    let mut helps: HashMap<String, String> = HashMap::new();
    for (at, span) in &quoted {
        let words: Vec<&str> = span.split_whitespace().collect();
        let path: Vec<&str> = words[1..]
            .iter()
            .take_while(|w| {
                w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-')
            })
            .copied()
            .collect();
        let key = path.join(" ");
        let help = helps.entry(key.clone()).or_insert_with(|| {
            let mut args: Vec<&str> = path.clone();
            args.push("--help");
            let o = env.run(&args);
            assert!(
                o.status.success(),
                "guide line {at}: `kmn {key}` is not a command: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            String::from_utf8_lossy(&o.stdout).into_owned()
        });
        for w in &words[1..] {
            if let Some(opt) = w.strip_prefix("--") {
                let opt = opt.split('=').next().unwrap();
                assert!(
                    help.contains(&format!("--{opt}")),
                    "guide line {at}: `kmn {key}` has no option --{opt} ({span})"
                );
            }
        }
    }
}
