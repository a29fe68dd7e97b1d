//! The SoftHSM2 harness shared by the integration tests of kmn-token.
//!
//! One SoftHSM configuration per test-binary process (SoftHSM reads `SOFTHSM2_CONF` at
//! C_Initialize, and the module is initialised once per process): a temporary token
//! directory is made on first use and every test takes its own blank slot and
//! initialises it with a unique label (SoftHSM adds a new blank slot each time its blank
//! one is initialised). What needs a different configuration (a legacy card without
//! RSA-PSS, [`NO_PSS`]) or a process-wide environment variable (`KMN_FAULT`) runs in a
//! child process: the test binary re-invokes itself on one `#[ignore]`d test with
//! [`CHILD_ENV`] set ([`run_child`], [`is_child`]).
//!
//! Without SoftHSM2 the tests skip loudly, except under `CI=true`, where they fail.

#![allow(dead_code, unused_macros)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use kmn_token::*;

// ------------------------------------------------------------------ harness

pub struct Hsm {
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub module_path: PathBuf,
    pub module: Module,
}

pub static HSM: OnceLock<Option<Hsm>> = OnceLock::new();
/// Serialises taking the blank slot.
pub static ALLOC: Mutex<()> = Mutex::new(());

pub const CHILD_ENV: &str = "KMN_TOKEN_CHILD";
pub const MECHS_ENV: &str = "KMN_TOKEN_TEST_MECHANISMS";

pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

pub fn skip(what: &str) {
    assert!(
        !in_ci(),
        "{what} is required under CI=true (apt-get install softhsm2 opensc)"
    );
    eprintln!("SKIPPED: {what} is not installed (apt-get install softhsm2 opensc)");
}

pub fn hsm() -> Option<&'static Hsm> {
    HSM.get_or_init(|| {
        let Some(module_path) = find_softhsm2_module() else {
            skip("SoftHSM2 (libsofthsm2.so)");
            return None;
        };
        remove_stale_dirs();
        let dir = tempfile::Builder::new()
            .prefix("kmn-token-softhsm-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir")
            // Kept: the module holds files in it until the process exits.
            .keep();
        std::fs::create_dir_all(dir.join("tokens")).unwrap();
        let conf = dir.join("softhsm2.conf");
        let mut text = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.join("tokens").display()
        );
        if let Ok(m) = std::env::var(MECHS_ENV) {
            text.push_str(&format!("slots.mechanisms = {m}\n"));
        }
        std::fs::write(&conf, text).unwrap();
        // SAFETY: set once, inside this OnceLock initialiser that every test passes
        // through before touching SoftHSM or spawning anything; other test threads are
        // blocked on the OnceLock meanwhile, so nothing reads the environment
        // concurrently.
        unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
        let module = Module::load(&module_path).expect("load SoftHSM2");
        Some(Hsm {
            dir,
            conf,
            module_path,
            module,
        })
    })
    .as_ref()
}

/// Token directories of earlier runs (kept while their process lived) older than a day.
pub fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 24 * 3600);
        if old
            && e.file_name()
                .to_string_lossy()
                .starts_with("kmn-token-softhsm-")
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

macro_rules! need_hsm {
    () => {
        match hsm() {
            Some(h) => h,
            None => return,
        }
    };
}

pub fn have_tool(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok()
        || Command::new(name).arg("version").output().is_ok()
}

macro_rules! need_tool {
    ($name:expr) => {
        if !have_tool($name) {
            skip($name);
            return;
        }
    };
}

/// The center's master secret for SO PINs in these tests.
pub fn deriver() -> SoPinDeriver {
    SoPinDeriver::new(b"kmn-token test master secret 32b".to_vec()).unwrap()
}

pub struct Card {
    pub slot: Slot,
    pub label: String,
    pub serial: String,
    pub so: SecretPin,
    pub pin: SecretPin,
}

/// Takes the blank slot, initialises it as the station does (SO PIN derived from the
/// serial, random 8-digit user PIN).
pub fn new_card(h: &Hsm, label: &str) -> Card {
    let _g = ALLOC.lock().unwrap_or_else(|e| e.into_inner());
    let blank = h
        .module
        .slots_with_tokens()
        .unwrap()
        .into_iter()
        .find(|s| !s.initialized)
        .expect("SoftHSM always offers a blank slot");
    let slot = h.module.find_slot(None, Some(blank.slot_id)).unwrap();
    let init = init_card_derived(&h.module, slot, &deriver(), label).unwrap();
    assert_eq!(init.serial, token_serial(&h.module, slot).unwrap());
    assert_eq!(init.so_pin, deriver().so_pin(&init.serial).unwrap());
    let pin = SecretPin::random_digits(8).unwrap();
    set_initial_user_pin(&h.module, slot, &init.so_pin, &pin).unwrap();
    // Found again by label (slot ids move between processes).
    assert_eq!(h.module.find_slot(Some(label), None).unwrap(), slot);
    Card {
        slot,
        label: label.to_string(),
        serial: init.serial,
        so: init.so_pin,
        pin,
    }
}

pub fn logged_in(h: &Hsm, c: &Card) -> CardSession {
    let s = CardSession::open(&h.module, c.slot).unwrap();
    login_user(&s, &c.pin).unwrap();
    s
}

pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

pub fn test_dir(h: &Hsm, name: &str) -> PathBuf {
    let d = h.dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn random_serial() -> kmn_domain::CertSerial {
    loop {
        let mut b = [0u8; 16];
        aws_lc_rs::rand::fill(&mut b).unwrap();
        b[0] &= 0x7f;
        if let Some(s) = kmn_domain::CertSerial::from_random(b) {
            return s;
        }
    }
}

/// A certificate for `spki` issued by a software CA (no lints: only its shape matters
/// Runs this test binary again on `test` (an ignored child test) with `envs`.
pub fn run_child(test: &str, envs: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(envs.iter().copied())
        .env_remove("SOFTHSM2_CONF")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child {test} failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "child {test} ran no test:\n{text}"
    );
    text
}

pub fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(name)
}
/// The `slots.mechanisms` value that removes RSA-PSS. SoftHSM 2.6.1 ignores the first
/// name after the leading "-" (so `-CKM_RSA_PKCS_PSS` alone removes nothing), and
/// `ALL,-X` is not its syntax (it disables everything): hence the repetition.
pub const NO_PSS: &str = "-CKM_RSA_PKCS_PSS,CKM_RSA_PKCS_PSS,CKM_SHA1_RSA_PKCS_PSS,CKM_SHA224_RSA_PKCS_PSS,CKM_SHA256_RSA_PKCS_PSS,CKM_SHA384_RSA_PKCS_PSS,CKM_SHA512_RSA_PKCS_PSS";
