//! Two `kmn serve` instances on one PostgreSQL database, as on two hosts (issue 10 item
//! 4, 第16条, DESIGN §7): each has its own data dir — a copy of the first host's
//! configuration and CA key material, without its repository — and its own repository.
//! Revocations are taken on both hosts in turn (through the library on each host's data
//! dir, a burst, and `kmn cert revoke` there, which publishes itself: a third
//! publisher); every CRL either instance serves has one number for one content, numbers
//! only go up, and each revocation is in the CRL both instances serve within 1 s of its
//! commit, woken by PostgreSQL's notifications (the safety poll is 5 s) — also after the
//! LISTEN connections were cut.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kmn_app::ca::revoke::revoke;
use kmn_app::{App, Config};
use kmn_domain::{RevocationReason, ValidityPeriod};

use crate::serve::{Server, crl_lists, get, start_with_stderr};
use crate::story::{issue_n, req};
use crate::support::{Env, pg_url, tool};

const CRL: &str = "/repo/kmn-issuing-g1.crl";

/// The library over a host's data dir and the shared database (a CLI process there).
async fn host_app(env: &Env, url: &str) -> App {
    let mut cfg = Config::load(&env.data_dir()).unwrap();
    cfg.database_url = url.to_string();
    App::with_config(&env.data_dir(), cfg, Arc::new(kmn_app::SystemClock))
        .await
        .unwrap()
}

/// A log without terminal colours.
fn log_text(path: &std::path::Path) -> String {
    let raw = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What the instances served: for each, the (number, SHA-256) of each CRL it served, in
/// order; every number has one content across both.
#[derive(Default)]
struct Served {
    seq: [Vec<(i64, String)>; 2],
    content: HashMap<i64, String>,
}

impl Served {
    /// Fetches the CRL of instance `i`, records it, and tells whether it lists `serial`.
    fn fetch(&mut self, i: usize, srv: &Server, serial: &str) -> bool {
        use sha2::Digest;
        let (status, _, der) = get(&srv.http, CRL);
        if status == 404 {
            return false;
        }
        assert_eq!(
            status,
            200,
            "instance {i} serves {CRL}: {}",
            String::from_utf8_lossy(&der)
        );
        let number = kmn_pki::crl::number_unchecked(&der)
            .expect("a CRL with a number")
            .0;
        let sha = hex::encode(sha2::Sha256::digest(&der));
        if self.seq[i].last().map(|(_, s)| s) != Some(&sha) {
            if let Some((last, _)) = self.seq[i].last() {
                assert!(
                    number > *last,
                    "instance {i} served CRL {number} after CRL {last}"
                );
            }
            let same = self.content.entry(number).or_insert_with(|| sha.clone());
            assert_eq!(*same, sha, "two different CRLs numbered {number}");
            self.seq[i].push((number, sha));
        }
        crl_lists(&der, serial)
    }

    /// Waits until both instances serve a CRL listing `serial`; returns how long each took
    /// from `since`.
    fn wait_both(&mut self, srvs: &[Server; 2], serial: &str, since: Instant) -> [Duration; 2] {
        let mut took = [None, None];
        while took.iter().any(Option::is_none) {
            for (i, srv) in srvs.iter().enumerate() {
                if took[i].is_none() && self.fetch(i, srv, serial) {
                    took[i] = Some(since.elapsed());
                }
            }
            assert!(
                since.elapsed() < Duration::from_secs(10),
                "the revocation of {serial} never reached both instances: {took:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        [took[0].unwrap(), took[1].unwrap()]
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn art16_two_instances_crl_numbers_strictly_increase_and_every_revocation_within_1s() {
    let Some(url) = pg_url("two").await else {
        return;
    };
    let schema = url
        .rsplit("search_path%3D")
        .next()
        .expect("a schema in the test URL")
        .to_string();
    // Host A makes the CA (`kmn up` on PostgreSQL) and serves.
    let a = Env::new()
        .env("KMN_DATABASE_URL", &url)
        .env("KMN_LOG", "info,sqlx=warn");
    // kmn.toml as `kmn up` writes it, with public rate limits this polling never reaches.
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(a.data_dir())
            .unwrap();
        let cfg = Config {
            demo: true,
            support_center_phone: "096-000-0000".into(),
            ca: kmn_app::config::CaConfig {
                passphrase_file: Some("secrets/ca-passphrase".into()),
                ..Default::default()
            },
            listen: kmn_app::config::ListenConfig {
                public_requests_per_minute: 1_000_000,
                public_burst: 1_000_000,
                ..Default::default()
            },
            ..Config::default()
        };
        let path = a.data_dir().join("kmn.toml");
        std::fs::write(&path, cfg.to_toml()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let logs = [a.path("serve-a.log"), a.path("serve-b.log")];
    let srv_a = start_with_stderr(&a, std::fs::File::create(&logs[0]).unwrap().into());
    // Host B: a copy of A's data dir as the administrator would install it (kmn.toml,
    // secrets/: the CA keys, their passphrase, the TLS certificate), without A's repository.
    let b = Env::new()
        .env("KMN_DATABASE_URL", &url)
        .env("KMN_LOG", "info,sqlx=warn");
    let o = Command::new("cp")
        .arg("-a")
        .arg(a.data_dir())
        .arg(b.data_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_dir_all(b.data_dir().join("repo")).unwrap();
    let srv_b = start_with_stderr(&b, std::fs::File::create(&logs[1]).unwrap().into());
    let srvs = [srv_a, srv_b];
    let apps = [host_app(&a, &url).await, host_app(&b, &url).await];

    let serials = issue_n(&apps[0], 26, ValidityPeriod::Years5).await.unwrap();
    let mut served = Served::default();
    let mut worst = Duration::ZERO;
    let mut check = |served: &mut Served, serial: &str, since: Instant, what: &str| {
        let took = served.wait_both(&srvs, serial, since);
        for (i, t) in took.iter().enumerate() {
            assert!(
                *t <= Duration::from_secs(1),
                "{what}: the revocation of {serial} reached instance {i}'s CRL after {t:?} (第16条: 1 s)"
            );
            worst = worst.max(*t);
        }
    };
    // 14 revocations one by one, on host A and host B in turn.
    for (k, serial) in serials[..14].iter().enumerate() {
        revoke(&apps[k % 2], &req(serial, RevocationReason::KeyCompromise))
            .await
            .unwrap();
        let committed = Instant::now();
        check(&mut served, serial, committed, "one by one");
    }
    // A burst of 6 on both hosts at once: one or a few CRLs, each revocation within 1 s.
    let burst = &serials[14..20];
    let mut committed = Vec::new();
    for (k, serial) in burst.iter().enumerate() {
        revoke(&apps[k % 2], &req(serial, RevocationReason::Superseded))
            .await
            .unwrap();
        committed.push(Instant::now());
    }
    for (serial, at) in burst.iter().zip(committed) {
        check(&mut served, serial, at, "burst");
    }
    // `kmn cert revoke` on host A and host B in turn: a third publisher (the CLI publishes
    // at once into its host's repository); the other instance serves it within 1 s.
    let passphrase = std::fs::read_to_string(a.data_dir().join("secrets/ca-passphrase")).unwrap();
    for (k, serial) in serials[20..24].iter().enumerate() {
        let o = [&a, &b][k % 2]
            .cmd(&["cert", "revoke", serial, "--reason", "key-compromise"])
            .env("KMN_CA_PASSPHRASE", passphrase.trim())
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success() && out.contains("CRL #"),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let done = Instant::now();
        check(&mut served, serial, done, "kmn cert revoke");
    }

    // PostgreSQL cuts both LISTEN connections (as at a restart): the instances poll until
    // they listen again, and the 1 s bar holds throughout.
    let mut tx = apps[0].store_for_tests().begin().await.unwrap();
    let cut = tx
        .execute_raw(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'kmn crl listener {schema}'"
        ))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(cut, 2, "one LISTEN connection per instance");
    for (k, serial) in serials[24..26].iter().enumerate() {
        revoke(&apps[k % 2], &req(serial, RevocationReason::KeyCompromise))
            .await
            .unwrap();
        let committed = Instant::now();
        check(&mut served, serial, committed, "LISTEN cut");
        std::thread::sleep(Duration::from_millis(1500));
    }

    // The database agrees: the numbers served are recorded with the same content, every
    // revocation was stamped with a CRL that lists it, and the numbers recorded go up
    // with thisUpdate.
    let mut tx = apps[0].store_for_tests().read().await.unwrap();
    let mut first = BTreeMap::new();
    for s in &serials {
        let c = tx.certificate(s).await.unwrap().unwrap();
        first.insert(s.clone(), c.revocation.unwrap().first_crl_number.unwrap());
    }
    let newest = tx.last_crl("kmn-issuing-g1").await.unwrap().unwrap();
    let newest_der = tx
        .crl_der("kmn-issuing-g1", newest.number)
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    for (number, sha) in &served.content {
        assert!(*number <= newest.number);
        if *number == newest.number {
            assert_eq!(*sha, newest.sha256);
        }
    }
    for (s, n) in &first {
        assert!(*n >= 2, "{s} first listed by CRL {n}");
    }
    for s in &serials {
        assert!(crl_lists(&newest_der, s), "{s} missing from the newest CRL");
    }
    // Both instances end on the newest CRL, and OpenSSL verifies it against the CA.
    for (i, srv) in srvs.iter().enumerate() {
        assert_eq!(get(&srv.http, CRL).2, newest_der, "instance {i}");
    }
    let crl = a.path("newest.crl");
    std::fs::write(&crl, &newest_der).unwrap();
    let ca_pem = a.pem_of(&a.repo("kmn-issuing-g1.crt"), "cert");
    let (ok, out) = tool(
        "openssl",
        &[
            "crl",
            "-inform",
            "der",
            "-in",
            crl.to_str().unwrap(),
            "-CAfile",
            ca_pem.to_str().unwrap(),
            "-noout",
        ],
    );
    assert!(ok && out.contains("verify OK"), "{out}");

    // The notifications woke them (not the 5 s safety poll), and they listened again.
    drop(srvs);
    for (i, log) in logs.iter().enumerate() {
        let text = log_text(log);
        let notified = text
            .lines()
            .filter(|l| {
                (l.contains("CRL published") || l.contains("CRL from the database written"))
                    && l.contains("woken_by=notify")
            })
            .count();
        assert!(
            notified >= 5,
            "instance {i}: {notified} notified publications or copies:\n{text}"
        );
        assert!(
            text.contains("the LISTEN connection to PostgreSQL is lost")
                && text.contains("listening on PostgreSQL again"),
            "instance {i} did not report the cut and the reconnection:\n{text}"
        );
    }
    // Instance B wrote the CA certificates and ARL from the database at its start.
    for f in ["kmn-root-g1.crt", "kmn-issuing-g1.crt", "kmn-root-g1.crl"] {
        assert_eq!(
            std::fs::read(b.repo(f)).unwrap(),
            std::fs::read(a.repo(f)).unwrap(),
            "{f}"
        );
    }
    eprintln!(
        "issue10 two instances: 26 revocations, worst {worst:?}; CRLs served by A {:?}, by B {:?}",
        served.seq[0].iter().map(|(n, _)| n).collect::<Vec<_>>(),
        served.seq[1].iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for app in apps {
        app.close().await;
    }
}
