//! The CRL publisher of `kmn serve` (第16条, DESIGN §7, issue 10 item 4).
//!
//! - **Wake-ups.** On PostgreSQL a LISTEN connection (migration 0014's triggers notify at
//!   the commit of every status change and every published CRL, whoever made it) wakes
//!   the publisher; a safety poll every [`SAFETY_POLL`] covers a lost notification and the
//!   24-hour interval. While the LISTEN connection is down (PostgreSQL restarting) the
//!   publisher polls every [`POLL`] and listens again with a back-off. SQLite has no
//!   notifications: the [`POLL`] is the cross-process wake-up there.
//! - **Debounce.** After a wake-up the publisher waits [`DEBOUNCE`] for more, so a burst
//!   of revocations makes one CRL, well inside the 1 s bar.
//! - **The repository follows the database.** The newest CRL of each CA (root and
//!   issuing) is kept in the database with its record; when it is not the file in this
//!   instance's repository (another instance published it, on another host), its
//!   signature, number and hash are checked and it is written atomically. A file whose
//!   number is above the newest recorded CRL, or equal to it with other contents (a
//!   publication that wrote its file but never committed), makes a new CRL due at once,
//!   numbered above it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration as StdDuration, SystemTime};

use kmn_store::{Backend, CaKind, CrlWake};
use time::Duration;

use crate::ca::crl::{check_crl, due, finish, publish_in_tx};
use crate::ca::{LoadedCa, repo};
use crate::{App, AppError, secrets};

/// The poll on SQLite, and on PostgreSQL while the LISTEN connection is down.
pub const POLL: StdDuration = StdDuration::from_millis(200);
/// The safety poll on PostgreSQL while LISTEN works.
pub const SAFETY_POLL: StdDuration = StdDuration::from_secs(5);
/// How long the publisher gathers wake-ups before it looks (one CRL for a burst).
pub const DEBOUNCE: StdDuration = StdDuration::from_millis(50);

/// What made the publisher look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    Start,
    Poll,
    Notify,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cause::Start => "start",
            Cause::Poll => "poll",
            Cause::Notify => "notify",
        })
    }
}

/// Runs until `stop` changes: see the module documentation.
pub(crate) async fn run(
    app: App,
    cas: Vec<LoadedCa>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // Woken by PostgreSQL's notifications and by this process's own revocations (the
    // after-commit effect, crate::effects).
    let wakes = app.crl_wakes.clone();
    let listening = Arc::new(AtomicBool::new(false));
    let listener = (app.store.backend() == Backend::Postgres).then(|| {
        tokio::spawn(listen_loop(
            app.clone(),
            wakes.clone(),
            listening.clone(),
            stop.clone(),
        ))
    });
    // A new host's repository starts from the database: the CA certificates and the
    // root's ARL (the CRLs follow in the first pass).
    match repo::rebuild(&app).await {
        Ok(restored) => {
            for r in restored {
                tracing::info!(file = %r.path.display(), "{} written to the repository from the database", r.what);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "the repository could not be rebuilt from the database")
        }
    }
    let mut repo = RepoSync::load(&app).await;
    let mut cause = Cause::Start;
    loop {
        let ahead = repo.sync(&app, cause).await;
        for ca in &cas {
            let name = &ca.record.name;
            let is_due = match due(&app, name).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(ca = %name, error = %e, "CRL publication check failed");
                    false
                }
            };
            if ahead.contains(name) {
                tracing::warn!(ca = %name, "the repository's CRL is not the newest recorded one and cannot be copied from the database (a publication that did not commit, or one from before migration 0014): publishing a new CRL");
            } else if !is_due {
                continue;
            }
            publish_one(&app, ca, cause).await;
            repo.forget(name);
        }
        let poll = if listening.load(Ordering::SeqCst) {
            SAFETY_POLL
        } else {
            POLL
        };
        tokio::select! {
            _ = tokio::time::sleep(poll) => cause = Cause::Poll,
            _ = wakes.notified() => {
                cause = Cause::Notify;
                tokio::select! {
                    _ = tokio::time::sleep(DEBOUNCE) => {}
                    _ = stop.changed() => break,
                }
            }
            _ = stop.changed() => break,
        }
    }
    if let Some(l) = listener {
        let _ = l.await;
    }
}

/// Publishes one CA's CRL in its own transaction and logs the outcome.
async fn publish_one(app: &App, ca: &LoadedCa, cause: Cause) {
    let name = &ca.record.name;
    let mut tx = match app.store.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(ca = %name, error = %e, "CRL publication: database unavailable");
            return;
        }
    };
    let validity = Duration::hours(app.cfg.ca.crl_next_update_hours);
    let r = publish_in_tx(
        app,
        &mut tx,
        name,
        &ca.info,
        ca.signer.as_ref(),
        validity,
        "system:publisher",
    )
    .await;
    match finish(tx, r).await {
        Ok(p) => {
            tracing::info!(ca = %name, number = p.number, entries = p.entries, woken_by = %cause, "CRL published")
        }
        Err(AppError::Conflict(m)) => tracing::info!(ca = %name, "{m}"),
        Err(e) => {
            tracing::error!(ca = %name, error = %e, "CRL publication failed; retrying")
        }
    }
}

/// The LISTEN side: wakes the publisher at each notification of this schema, and once
/// after every (re)connection (what happened while not listening). Down, it sets
/// `listening` false (the publisher polls every [`POLL`]) and tries again after 1 s,
/// doubling up to 30 s.
async fn listen_loop(
    app: App,
    wakes: Arc<tokio::sync::Notify>,
    listening: Arc<AtomicBool>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = StdDuration::from_secs(1);
    let mut was_down = false;
    loop {
        let listening_now = tokio::select! {
            r = app.store.listen_crl_wakes() => r,
            _ = stop.changed() => return,
        };
        match listening_now {
            Ok(None) => return,
            Ok(Some(mut l)) => {
                listening.store(true, Ordering::SeqCst);
                if was_down {
                    tracing::warn!(
                        "CRL publisher: listening on PostgreSQL again (LISTEN kmn_crl); the 200 ms poll stops"
                    );
                } else {
                    tracing::info!(
                        "CRL publisher: woken by PostgreSQL (LISTEN kmn_crl) at every revocation's commit, safety poll every {} s",
                        SAFETY_POLL.as_secs()
                    );
                }
                wakes.notify_one();
                backoff = StdDuration::from_secs(1);
                loop {
                    tokio::select! {
                        r = l.next() => match r {
                            Ok(CrlWake::StatusChange | CrlWake::Published) => wakes.notify_one(),
                            Err(e) => {
                                tracing::warn!(error = %e, "CRL publisher: the LISTEN connection to PostgreSQL is lost; polling every 200 ms until it is back");
                                break;
                            }
                        },
                        _ = stop.changed() => return,
                    }
                }
                listening.store(false, Ordering::SeqCst);
                was_down = true;
                wakes.notify_one();
            }
            Err(e) => {
                if !was_down {
                    tracing::warn!(error = %e, "CRL publisher: cannot LISTEN on PostgreSQL; polling every 200 ms meanwhile");
                }
                was_down = true;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(StdDuration::from_secs(30));
    }
}

/// What this instance's repository holds for one CA's CRL, as last read (re-read when
/// the file's length or modification time changes).
#[derive(Clone, Debug, PartialEq, Eq)]
struct LocalCrl {
    number: i64,
    sha256: String,
    len: u64,
    modified: Option<SystemTime>,
}

/// Keeps this instance's repository CRLs equal to the newest the database holds.
struct RepoSync {
    dir: PathBuf,
    /// Root and issuing CAs (not expired at start): name and SubjectPublicKeyInfo.
    cas: Vec<(String, CaKind, Vec<u8>)>,
    local: HashMap<String, LocalCrl>,
    /// CRLs whose bytes the database does not hold (published before migration 0014),
    /// reported once each.
    told_no_bytes: HashSet<(String, i64)>,
}

impl RepoSync {
    async fn load(app: &App) -> RepoSync {
        let mut out = RepoSync {
            dir: app.repo_dir(),
            cas: Vec::new(),
            local: HashMap::new(),
            told_no_bytes: HashSet::new(),
        };
        let cas = match app.store.read().await {
            Ok(mut tx) => {
                let r = tx.list_cas().await;
                let _ = tx.rollback().await;
                r.map_err(AppError::from)
            }
            Err(e) => Err(e.into()),
        };
        let now = app.now();
        match cas {
            Ok(cas) => {
                for c in cas.into_iter().filter(|c| {
                    matches!(c.kind, CaKind::Root | CaKind::Issuing) && c.not_after > now
                }) {
                    match kmn_pki::parse::cert(&c.cert_der) {
                        Ok(p) => out.cas.push((c.name.clone(), c.kind, p.tbs.spki.to_vec())),
                        Err(e) => {
                            tracing::error!(ca = %c.name, error = %e, "the CA certificate in the database does not parse: its CRL is not copied into the repository")
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "CRL repository copy: the CAs could not be read; this instance's repository follows only its own publications")
            }
        }
        out
    }

    fn path(&self, ca_name: &str) -> PathBuf {
        self.dir.join(repo::crl_file(ca_name))
    }

    /// Forgets what is known of a CA's file (after this instance wrote it).
    fn forget(&mut self, ca_name: &str) {
        self.local.remove(ca_name);
    }

    /// The CRL file of a CA as it is now (`None`: missing or unreadable).
    fn local(&mut self, ca_name: &str) -> Option<LocalCrl> {
        let path = self.path(ca_name);
        let meta = std::fs::metadata(&path).ok()?;
        let (len, modified) = (meta.len(), meta.modified().ok());
        if let Some(l) = self.local.get(ca_name)
            && l.len == len
            && l.modified == modified
            && modified.is_some()
        {
            return Some(l.clone());
        }
        let der = std::fs::read(&path).ok()?;
        use sha2::Digest;
        let l = LocalCrl {
            number: kmn_pki::crl::number_unchecked(&der).map_or(0, |n| n.0),
            sha256: hex::encode(sha2::Sha256::digest(&der)),
            len,
            modified,
        };
        self.local.insert(ca_name.to_string(), l.clone());
        Some(l)
    }

    /// Writes every CA's newest recorded CRL that is not this repository's file; returns
    /// the issuing CAs that need a new CRL now: their file is numbered above every
    /// recorded CRL, or the database holds no bytes of their newest (published before
    /// migration 0014) and this repository does not have it.
    async fn sync(&mut self, app: &App, cause: Cause) -> HashSet<String> {
        let mut ahead = HashSet::new();
        if self.cas.is_empty() {
            return ahead;
        }
        let newest = async {
            let mut tx = app.store.read().await?;
            let mut out = Vec::new();
            for (name, _, _) in &self.cas {
                match tx.last_crl(name).await {
                    Ok(r) => out.push(r),
                    Err(e) => {
                        let _ = tx.rollback().await;
                        return Err(AppError::from(e));
                    }
                }
            }
            tx.rollback().await?;
            Ok::<_, AppError>(out)
        }
        .await;
        let newest = match newest {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "CRL repository copy: the database does not answer");
                return ahead;
            }
        };
        let cas = self.cas.clone();
        for ((name, kind, spki), rec) in cas.iter().zip(newest) {
            let Some(rec) = rec else { continue };
            let local = self.local(name);
            if let Some(l) = &local {
                if l.sha256 == rec.sha256 {
                    continue;
                }
                // A file numbered at or above the newest record but not it was never
                // recorded (its publication did not commit): relying parties may have it,
                // so the next CRL goes above it rather than reusing its number with other
                // contents. Only the root's ARL, which no instance can sign, is copied
                // over a file of the same number.
                if l.number > rec.number || (l.number == rec.number && *kind == CaKind::Issuing) {
                    if *kind == CaKind::Issuing {
                        ahead.insert(name.clone());
                    }
                    continue;
                }
            }
            match self.copy(app, name, spki, &rec).await {
                Ok(Copied::Written) => {
                    tracing::info!(ca = %name, number = rec.number, woken_by = %cause, "CRL from the database written to this repository")
                }
                Ok(Copied::NoBytes) if *kind == CaKind::Issuing => {
                    ahead.insert(name.clone());
                }
                Ok(Copied::NoBytes | Copied::NewerHere) => {}
                Err(e) => {
                    tracing::error!(ca = %name, number = rec.number, error = %e, "the CRL in the database could not be written to this repository")
                }
            }
        }
        ahead
    }

    /// Fetches a recorded CRL's bytes, checks them (hash, signature by the CA, number)
    /// and writes them atomically.
    async fn copy(
        &mut self,
        app: &App,
        name: &str,
        spki: &[u8],
        rec: &kmn_store::CrlRecord,
    ) -> Result<Copied, AppError> {
        let mut tx = app.store.read().await?;
        let der = tx.crl_der(name, rec.number).await;
        tx.rollback().await?;
        let Some(der) = der? else {
            if self.told_no_bytes.insert((name.to_string(), rec.number)) {
                tracing::warn!(ca = %name, number = rec.number, "the database holds no bytes of this CRL (published before migration 0014): the next publication puts them there");
            }
            return Ok(Copied::NoBytes);
        };
        use sha2::Digest;
        if hex::encode(sha2::Sha256::digest(&der)) != rec.sha256 {
            return Err(AppError::Internal(format!(
                "the bytes of CRL {} of {name} in the database do not match its recorded SHA-256",
                rec.number
            )));
        }
        let (number, _) = check_crl(&der, spki)?;
        if number != rec.number {
            return Err(AppError::Internal(format!(
                "the CRL recorded as {} of {name} is numbered {number}",
                rec.number
            )));
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            AppError::Io(format!(
                "the repository directory {} cannot be created: {e}",
                self.dir.display()
            ))
        })?;
        // Another process on this host (`kmn cert revoke`) may have written a newer one
        // meanwhile: never go back.
        self.forget(name);
        if self.local(name).is_some_and(|l| l.number > rec.number) {
            return Ok(Copied::NewerHere);
        }
        secrets::write_atomic(&self.path(name), &der, 0o644)?;
        self.forget(name);
        Ok(Copied::Written)
    }
}

/// What [`RepoSync::copy`] did.
enum Copied {
    Written,
    /// The database holds no bytes of that CRL.
    NoBytes,
    /// This repository got a newer one meanwhile.
    NewerHere,
}
