//! The peer baseline: OpenSSL on the same machine in the same run — `openssl speed`
//! for the primitives, `openssl ca -batch` for issuance, `openssl ca -gencrl` for CRLs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use time::OffsetDateTime;

use crate::crl::{Revoked, revocations};
use crate::csr::{self, Csr, CsrKind};
use crate::util::{Rng, Stats};

/// `openssl version`, or None when there is no openssl.
pub fn version() -> Option<String> {
    let out = Command::new("openssl").arg("version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Operations per second from `openssl speed`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Speed {
    /// RSA-2048 verify.
    pub rsa2048_verify: f64,
    /// ECDSA P-256 sign.
    pub p256_sign: f64,
    /// ECDSA P-256 verify.
    pub p256_verify: f64,
}

/// `openssl speed -seconds 1 -mr rsa2048 ecdsap256`.
pub fn speed() -> Result<Speed> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "1", "-mr", "rsa2048", "ecdsap256"])
        .stderr(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut s = Speed::default();
    for l in text.lines() {
        // +F2:<i>:<bits>:<sign/s>:<verify/s> (RSA), +F4:… (ECDSA).
        let f: Vec<&str> = l.split(':').collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        match (f.first(), f.get(2)) {
            (Some(&"+F2"), Some(&"2048")) => s.rsa2048_verify = num(4),
            (Some(&"+F4"), Some(&"256")) => {
                s.p256_sign = num(3);
                s.p256_verify = num(4);
            }
            _ => {}
        }
    }
    ensure!(
        s.p256_sign > 0.0 && s.rsa2048_verify > 0.0,
        "openssl speed printed nothing usable"
    );
    Ok(s)
}

fn openssl(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

const CA_CNF: &str = r#"[ ca ]
default_ca = bench
[ bench ]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.crt
private_key = $dir/ca.key
crlnumber = $dir/crlnumber
rand_serial = yes
default_md = sha256
default_days = 1826
default_crl_hours = 48
policy = policy_any
unique_subject = no
copy_extensions = none
x509_extensions = user_card
crl_extensions = crl_ext
[ policy_any ]
countryName = optional
organizationName = optional
commonName = supplied
# As close to kmn's user-card profile as `openssl ca` gets.
[ user_card ]
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = @policy
crlDistributionPoints = URI:http://127.0.0.1:8080/repo/kmn-issuing-g1.crl
authorityInfoAccess = OCSP;URI:http://127.0.0.1:8080/ocsp, caIssuers;URI:http://127.0.0.1:8080/repo/kmn-issuing-g1.crt
[ policy ]
policyIdentifier = 1.2.840.113556.1.8000.2554.1.1
CPS.1 = http://127.0.0.1:8080/repo/cps
[ crl_ext ]
authorityKeyIdentifier = keyid:always
"#;

/// A throwaway `openssl ca` directory with a P-256 CA (like kmn's issuing CA).
fn make_ca_dir(dir: &Path) -> Result<()> {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/C=JP/O=Kumamoto Medical Association/CN=Bench OpenSSL CA",
            "-days",
            "3650",
            "-addext",
            "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )?;
    std::fs::write(dir.join("ca.cnf"), CA_CNF)?;
    std::fs::write(dir.join("crlnumber"), "02\n")?;
    reset_db(dir)?;
    Ok(())
}

fn reset_db(dir: &Path) -> Result<()> {
    let nc = dir.join("newcerts");
    if nc.exists() {
        std::fs::remove_dir_all(&nc)?;
    }
    std::fs::create_dir(&nc)?;
    std::fs::write(dir.join("index.txt"), "")?;
    for f in ["index.txt.attr", "index.txt.old", "index.txt.attr.old"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    Ok(())
}

/// `openssl ca -batch` issuance figures, certificates per second.
#[derive(Clone, Debug)]
pub struct OpensslIssue {
    /// CSR kind.
    pub kind: CsrKind,
    /// Certificates per run.
    pub count: usize,
    /// One `openssl ca -batch -in csr` process per certificate.
    pub per_process: Stats,
    /// One `openssl ca -batch -infiles …` process for all of them.
    pub one_process: Stats,
}

/// Issues `count` certificates from Rust-made CSRs with `openssl ca -batch`, `runs` times
/// each way, in a temporary CA directory.
pub fn issue(kind: CsrKind, count: usize, runs: usize) -> Result<OpensslIssue> {
    let dir = tempfile::Builder::new()
        .prefix("kmn-bench-openssl-ca")
        .tempdir()?;
    let d = dir.path();
    make_ca_dir(d)?;
    let csrs: Vec<Csr> = csr::many(kind, count, 16)?;
    let mut names = Vec::new();
    for (i, c) in csrs.iter().enumerate() {
        let name = format!("req{i:04}.pem");
        std::fs::write(d.join(&name), csr::to_pem(&c.der))?;
        names.push(name);
    }
    let mut per = Vec::new();
    let mut one = Vec::new();
    for _ in 0..runs {
        reset_db(d)?;
        let t = Instant::now();
        for n in &names {
            openssl(
                d,
                &[
                    "ca", "-batch", "-notext", "-config", "ca.cnf", "-in", n, "-out", "out.pem",
                ],
            )?;
        }
        per.push(count as f64 / t.elapsed().as_secs_f64());
        reset_db(d)?;
        let mut args = vec![
            "ca", "-batch", "-notext", "-config", "ca.cnf", "-out", "out.pem", "-infiles",
        ];
        args.extend(names.iter().map(|s| s.as_str()));
        let t = Instant::now();
        openssl(d, &args)?;
        one.push(count as f64 / t.elapsed().as_secs_f64());
    }
    let issued = std::fs::read_dir(d.join("newcerts"))?.count();
    ensure!(
        issued == count,
        "openssl ca issued {issued} of {count} certificates"
    );
    Ok(OpensslIssue {
        kind,
        count,
        per_process: Stats::of(&per),
        one_process: Stats::of(&one),
    })
}

/// `openssl ca -gencrl` figures.
#[derive(Clone, Debug)]
pub struct OpensslCrl {
    /// Entries.
    pub entries: usize,
    /// Wall time, ms.
    pub ms: Stats,
    /// Maximum resident set size, MB (from `/usr/bin/time -v`).
    pub max_rss_mb: Stats,
}

fn utc_short(t: i64) -> Result<String> {
    let t = OffsetDateTime::from_unix_timestamp(t)?;
    Ok(format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        t.year() % 100,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

fn generalized(t: i64) -> Result<String> {
    let t = OffsetDateTime::from_unix_timestamp(t)?;
    Ok(format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// One index.txt line (`man ca`, apps/ca.c): status, expiry, revocation[,reason[,arg]],
/// serial (hex), file name, subject. `keyTime,<GeneralizedTime>` is keyCompromise with
/// an invalidityDate, like kmn's keyCompromise entries.
fn index_line(out: &mut String, r: &Revoked, not_after: &str) -> Result<()> {
    let reason = match r.reason {
        kmn_domain::RevocationReason::KeyCompromise => match r.invalidity {
            Some(t) => format!("keyTime,{}", generalized(t)?),
            None => "keyCompromise".into(),
        },
        kmn_domain::RevocationReason::Superseded => "superseded".into(),
        kmn_domain::RevocationReason::AffiliationChanged => "affiliationChanged".into(),
        _ => "cessationOfOperation".into(),
    };
    let _ = writeln!(
        out,
        "R\t{not_after}\t{},{reason}\t{}\tunknown\t/CN=x",
        utc_short(r.revoked_at)?,
        hex::encode_upper(r.serial)
    );
    Ok(())
}

/// `openssl ca -gencrl` over an index.txt of `n` revoked certificates (the same reason
/// mix as kmn's), under `/usr/bin/time -v`, `runs` times.
pub fn gencrl(n: usize, runs: usize) -> Result<OpensslCrl> {
    let dir = tempfile::Builder::new()
        .prefix("kmn-bench-openssl-crl")
        .tempdir()?;
    let d = dir.path();
    make_ca_dir(d)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let not_after = utc_short(now + 5 * 365 * 86_400)?;
    let mut revs = revocations(n, now, &mut Rng::from_time());
    // index.txt is in issuance order, not sorted: shuffle by a cheap key.
    revs.sort_unstable_by_key(|r| r.serial[15]);
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(d.join("index.txt"))?);
        let mut buf = String::with_capacity(64 * 1024);
        for r in &revs {
            index_line(&mut buf, r, &not_after)?;
            if buf.len() > 60_000 {
                f.write_all(buf.as_bytes())?;
                buf.clear();
            }
        }
        f.write_all(buf.as_bytes())?;
        f.flush()?;
    }
    drop(revs);
    let mut ms = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new("/usr/bin/time")
            .current_dir(d)
            .args([
                "-v", "openssl", "ca", "-gencrl", "-config", "ca.cnf", "-out", "crl.pem",
            ])
            .stdin(Stdio::null())
            .output()
            .context("/usr/bin/time (Debian package `time`)")?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(out.status.success(), "openssl ca -gencrl failed: {err}");
        let kb: f64 = err
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse().ok())
            .context("no maximum RSS in /usr/bin/time -v output")?;
        rss.push(kb * 1024.0 / 1e6);
    }
    Ok(OpensslCrl {
        entries: n,
        ms: Stats::of(&ms),
        max_rss_mb: Stats::of(&rss),
    })
}
