//! Test support: a data dir in a temp dir, the `kmn` binary, OpenSSL and pkilint, the
//! PostgreSQL server of the test command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use kmn_app::{App, FixedClock};

pub const PASSPHRASE: &str = "correct-horse-battery-staple";

/// Whether skipping is forbidden (CI=true).
pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// A temporary data dir and helpers to run `kmn` against it.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub extra_env: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Self {
        Env {
            tmp: tempfile::tempdir().expect("tempdir"),
            extra_env: vec![],
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn repo(&self, file: &str) -> PathBuf {
        self.data_dir().join("repo").join(file)
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.extra_env.push((k.into(), v.into()));
        self
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kmn"));
        c.args(args)
            .env("KMN_DATA_DIR", self.data_dir())
            .env("KMN_CA_PASSPHRASE", PASSPHRASE)
            .env("KMN_ACTOR", "test-admin")
            .env("KMN_LOG", "warn")
            .env("KMN_SUPPORT_CENTER_PHONE", "096-000-0000")
            .env("KMN_EMERGENCY_LISTEN", "127.0.0.1:0")
            // What `kmn ca init` refuses to guess outside demo mode (the defaults).
            .env("KMN_PUBLIC_BASE_URL", "http://127.0.0.1:8080")
            .env("KMN_ORGANIZATION", "Kumamoto Medical Association")
            .env_remove("KMN_DATABASE_URL")
            .env_remove("KMN_REPOSITORY_DIR")
            .env_remove("KMN_CA_PASSPHRASE_FILE");
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c
    }

    /// Runs `kmn`; returns the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run kmn")
    }

    /// Runs `kmn` and requires success.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "kmn {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).expect("utf-8")
    }

    /// `kmn ca init` with the given extra arguments.
    pub fn init(&self, extra: &[&str]) -> String {
        let mut args = vec!["ca", "init"];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    /// Makes a key and CSR with OpenSSL; returns the CSR path.
    pub fn csr(&self, name: &str, key: &str, subject: &str, extra: &[&str]) -> PathBuf {
        let csr = self.path(&format!("{name}.csr"));
        let keyf = self.path(&format!("{name}.key"));
        let mut c = Command::new("openssl");
        c.args(["req", "-new", "-nodes", "-subj", subject, "-keyout"])
            .arg(&keyf)
            .arg("-out")
            .arg(&csr);
        match key {
            "rsa2048" => c.args(["-newkey", "rsa:2048"]),
            "p256" => c.args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
            "rsa1024" => c.args(["-newkey", "rsa:1024"]),
            other => panic!("key {other}"),
        };
        c.args(extra);
        let o = c.output().expect("openssl");
        assert!(
            o.status.success(),
            "openssl req: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        csr
    }

    /// Issues a certificate from a CSR; writes `<name>.pem`; returns (path, serial).
    pub fn issue(
        &self,
        name: &str,
        csr: &Path,
        profile: &str,
        validity: &str,
    ) -> (PathBuf, String) {
        let o = self.run(&[
            "cert",
            "issue",
            "--csr",
            csr.to_str().unwrap(),
            "--profile",
            profile,
            "--validity",
            validity,
        ]);
        assert!(
            o.status.success(),
            "issue: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let pem = self.path(&format!("{name}.pem"));
        std::fs::write(&pem, &o.stdout).unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        let serial = err
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("serial")
                    .map(|s| s.trim().to_string())
            })
            .expect("serial on stderr");
        (pem, serial)
    }

    /// `openssl verify -crl_check_all` of the PEM certificate `cert` against this data
    /// dir's repository: the root as the anchor, the issuing CA `issuing` (e.g.
    /// `kmn-issuing-g1`) as the intermediate, the root's ARL and that CA's CRL, with
    /// `extra` options (e.g. `-x509_strict`). Returns (verified, output).
    pub fn verify_with_repository(
        &self,
        issuing: &str,
        cert: &Path,
        extra: &[&str],
    ) -> (bool, String) {
        let root = self.pem_of(&self.repo("kmn-root-g1.crt"), "cert");
        let ca = self.pem_of(&self.repo(&format!("{issuing}.crt")), "cert");
        let crls = self.path(&format!("arl-and-{issuing}.pem"));
        std::fs::write(
            &crls,
            [
                std::fs::read(self.pem_of(&self.repo("kmn-root-g1.crl"), "crl")).unwrap(),
                std::fs::read(self.pem_of(&self.repo(&format!("{issuing}.crl")), "crl")).unwrap(),
            ]
            .concat(),
        )
        .unwrap();
        let mut args = vec!["verify"];
        args.extend_from_slice(extra);
        args.extend([
            "-crl_check_all",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            ca.to_str().unwrap(),
            "-CRLfile",
            crls.to_str().unwrap(),
            cert.to_str().unwrap(),
        ]);
        tool("openssl", &args)
    }

    /// Converts a DER repository file to PEM in the temp dir.
    pub fn pem_of(&self, der_file: &Path, kind: &str) -> PathBuf {
        let out = self.path(&format!(
            "{}.pem",
            der_file.file_name().unwrap().to_str().unwrap()
        ));
        let args: Vec<&str> = match kind {
            "crl" => vec!["crl", "-inform", "der"],
            _ => vec!["x509", "-inform", "der"],
        };
        let o = Command::new("openssl")
            .args(args)
            .arg("-in")
            .arg(der_file)
            .arg("-out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    }

    /// Opens the data dir's store (SQLite) directly.
    pub async fn app(&self) -> App {
        App::open(&self.data_dir(), Arc::new(kmn_app::SystemClock))
            .await
            .expect("open app")
    }
}

/// Writes a secret file (PIN, passphrase) readable by its owner only, as kmn requires.
pub fn write_secret(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Runs a program; returns (success, stdout+stderr).
pub fn tool(prog: &str, args: &[&str]) -> (bool, String) {
    let o = Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{prog}: {e}"));
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// The venv with pkilint (made by scripts/test), or None (then the caller skips, except in CI).
pub fn venv_bin(name: &str) -> Option<PathBuf> {
    let venv = std::env::var("KMN_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let p = venv.join("bin").join(name);
    if p.exists() {
        Some(p)
    } else if in_ci() {
        panic!(
            "{} is missing: scripts/test installs pkilint into .venv",
            p.display()
        );
    } else {
        eprintln!("SKIP: {} not found (run ./scripts/test)", p.display());
        None
    }
}

/// Lints with pkilint; panics on any ERROR or FATAL finding.
pub fn pkilint(bin: &str, args: &[&str]) {
    pkilint_except(bin, args, &[]);
}

/// Lints with pkilint; panics on any ERROR or FATAL finding except the `allowed` ones,
/// each given as its exact finding line (`code (ERROR): message`), e.g. the `localhost`
/// SAN of the demo TLS certificate (docs/SECURITY.md, "pkilint exceptions").
pub fn pkilint_except(bin: &str, args: &[&str], allowed: &[&str]) {
    let Some(b) = venv_bin(bin) else { return };
    let o = Command::new(&b)
        .arg("lint")
        .args(["-s", "ERROR"])
        .args(args)
        .output()
        .expect("pkilint");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let findings: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("(ERROR)") || l.contains("(FATAL)"))
        .collect();
    let unexpected = findings.iter().any(|f| !allowed.contains(f));
    // pkilint exits non-zero when it reports a finding at the given severity; an allowed
    // finding is then the only reason.
    let clean_exit = o.status.success() || (!findings.is_empty() && !unexpected);
    assert!(
        clean_exit && !unexpected && !out.contains("Traceback"),
        "{bin} {args:?} found problems:\n{out}"
    );
}

/// The PostgreSQL URL for tests with a fresh schema, or None outside CI when none answers.
pub async fn pg_url(tag: &str) -> Option<String> {
    let base = std::env::var("KMN_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("t_{tag}_{}", hex::encode(rand_bytes()));
    match kmn_store::create_test_schema(&base, &schema).await {
        Ok(u) => Some(u),
        Err(e) if in_ci() => panic!("PostgreSQL is required in CI: {e}"),
        Err(e) => {
            eprintln!("SKIP PostgreSQL: {e}");
            None
        }
    }
}

pub fn rand_bytes() -> [u8; 6] {
    let mut b = [0u8; 6];
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let pid = std::process::id() as u128;
    let v = (t ^ (pid << 40)).to_le_bytes();
    b.copy_from_slice(&v[..6]);
    static N: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
    b[5] ^= N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    b
}

/// An app over a given database URL in a temp data dir, with a fixed clock.
pub async fn app_with(url: &str, dir: &Path, clock: Arc<FixedClock>) -> App {
    let cfg = kmn_app::Config {
        database_url: url.to_string(),
        ca: kmn_app::config::CaConfig {
            passphrase_file: Some("passphrase".into()),
            ..Default::default()
        },
        ..kmn_app::Config::default()
    };
    std::fs::create_dir_all(dir).unwrap();
    write_secret(&dir.join("passphrase"), PASSPHRASE);
    std::fs::write(dir.join("kmn.toml"), cfg.to_toml()).unwrap();
    App::with_config(dir, cfg, clock).await.expect("app")
}

/// A snapshot of everything a failed operation must leave as it was.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub rows: Vec<(String, i64)>,
    pub crl_state: Vec<(String, i64, i64, i64)>,
    pub files: Vec<(String, String)>,
}

pub async fn snapshot(app: &App) -> Snapshot {
    use sqlx::Row;
    let mut rows = Vec::new();
    for t in [
        "cas",
        "issuance_intents",
        "certificates",
        "cert_status",
        "crls",
        "audit_events",
        "settings",
    ] {
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
            .fetch_one(app.store_for_tests().pool())
            .await
            .unwrap()
            .get(0);
        rows.push((t.to_string(), n));
    }
    let revoked: i64 = sqlx::query("SELECT COUNT(*) FROM cert_status WHERE status = 'revoked'")
        .fetch_one(app.store_for_tests().pool())
        .await
        .unwrap()
        .get(0);
    rows.push(("revoked".into(), revoked));
    let crl_state = sqlx::query("SELECT ca_name, last_number, last_this_update, last_published_number FROM crl_state ORDER BY ca_name")
        .fetch_all(app.store_for_tests().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let mut files = Vec::new();
    for sub in ["repo", "secrets"] {
        let d = app.data_dir.join(sub);
        if let Ok(rd) = std::fs::read_dir(&d) {
            let mut v: Vec<_> = rd.flatten().collect();
            v.sort_by_key(|e| e.file_name());
            for e in v {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                use sha2::Digest;
                files.push((
                    format!("{sub}/{}", e.file_name().to_string_lossy()),
                    hex::encode(sha2::Sha256::digest(bytes)),
                ));
            }
        }
    }
    Snapshot {
        rows,
        crl_state,
        files,
    }
}

/// Asserts a failed command: exit code, a message fragment, and the error code.
pub fn assert_fails(o: &Output, code: i32, fragment: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(code),
        "expected exit {code}, stderr: {err}"
    );
    assert!(err.contains(fragment), "expected '{fragment}' in: {err}");
}

/// A TLS server certificate for `localhost` (serverAuth) from a throwaway OpenSSL CA with
/// P-256 keys, in `env.path(dir)`: `ca.pem`, `srv.pem`, `srv.key` (PEM) and `srv.p8`
/// (PKCS#8 DER). Returns the directory.
pub fn openssl_server_cert(env: &Env, dir: &str, ca_cn: &str) -> std::path::PathBuf {
    let d = env.path(dir);
    std::fs::create_dir_all(&d).unwrap();
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    let (ca_key, ca_pem, srv_key, srv_csr, srv_pem, srv_p8, ext) = (
        p("ca.key"),
        p("ca.pem"),
        p("srv.key"),
        p("srv.csr"),
        p("srv.pem"),
        p("srv.p8"),
        p("ext.cnf"),
    );
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let subj = format!("/CN={ca_cn}");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let ca: Vec<&str> = ["req", "-x509"]
        .into_iter()
        .chain(ec)
        .chain([
            "-keyout", &ca_key, "-out", &ca_pem, "-subj", &subj, "-days", "2",
        ])
        .chain(["-addext", "basicConstraints=critical,CA:TRUE"])
        .chain(["-addext", "keyUsage=critical,keyCertSign"])
        .collect();
    let csr: Vec<&str> = ["req"]
        .into_iter()
        .chain(ec)
        .chain([
            "-keyout",
            &srv_key,
            "-out",
            &srv_csr,
            "-subj",
            "/CN=localhost",
        ])
        .collect();
    let sign = vec![
        "x509",
        "-req",
        "-in",
        &srv_csr,
        "-CA",
        &ca_pem,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &srv_pem,
        "-days",
        "2",
        "-extfile",
        &ext,
    ];
    let p8 = vec![
        "pkcs8", "-topk8", "-nocrypt", "-in", &srv_key, "-outform", "DER", "-out", &srv_p8,
    ];
    for args in [ca, csr, sign, p8] {
        let (ok, o) = tool("openssl", &args);
        assert!(ok, "openssl {args:?}: {o}");
    }
    d
}
