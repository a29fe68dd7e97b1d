//! The OCSP responder (RFC 6960, issue 10 item 5): nothing is signed on the request path.
//!
//! - [`Responders`]: per issuing CA, its delegated OCSP signer (DESIGN §4: EKU OCSPSigning
//!   only, id-pkix-ocsp-nocheck), loaded once by `kmn serve`.
//! - [`refresh`]: signs, ahead of any request, a response per certificate and CertID
//!   hash (SHA-1 and SHA-256) — for a new certificate, after every status change
//!   (revocation, hold, release), and half-way through a response's validity
//!   (`ca.ocsp_validity_hours`, 96 h) — and stores them in the database, so every
//!   instance serves the same bytes. `kmn serve` runs it every 100 ms
//!   ([`signer_loop`]); each response is linted before it is signed
//!   ([`kmn_pki::ocsp::prepare`]) and never reaches past its signer's notAfter.
//! - [`answer`]: the request path — parse (one request per requestList), find the
//!   issuer by its hashes, read the stored response. A serial this CA never issued, or
//!   another issuer: `unauthorized`; malformed: `malformedRequest`; a certificate issued
//!   a moment ago whose response is not signed yet: `tryLater`. Nonces are ignored
//!   (RFC 8954: pre-signed responses carry none) — unless `[ca] ocsp_nonce = "echo"`:
//!   then a request with a nonce gets a response signed for it on a blocking thread
//!   (never in the in-memory cache), echoing the nonce, at most
//!   `ca.ocsp_nonce_per_second` a second for all clients together; beyond that, the
//!   pre-signed response without a nonce.

use kmn_domain::RevocationReason;
use kmn_pki::keys::Signer;
use kmn_pki::ocsp::{self, CertId, HashAlg, IssuerHashes, ResponseParams, ResponseStatus};
use kmn_store::{CaKind, OcspResponseRow};
use time::{Duration, OffsetDateTime};

use crate::{App, AppError};

/// How many certificates one pass of [`refresh`] signs at most, per issuing CA.
pub const REFRESH_BATCH: i64 = 500;

/// How many recently changed certificates one pass looks at (an index range).
pub const CHANGE_SCAN: i64 = 2000;

/// A pass looks at the changes of the last seconds again: a transaction stamped a moment
/// before it committed is still seen.
pub const CHANGE_OVERLAP_SECS: i64 = 5;

/// How often the full scan runs, as a safety net for what the index range missed (a
/// transaction that committed more than [`CHANGE_OVERLAP_SECS`] after its stamp).
pub const FULL_SCAN_SECS: i64 = 60;

/// One issuing CA and its OCSP signer.
pub struct Responder {
    /// The issuing CA's record name.
    pub ca_name: String,
    /// The OCSP signer's record name.
    pub signer_name: String,
    hashes: IssuerHashes,
    signer: Box<dyn Signer>,
    cert_der: Vec<u8>,
    /// The signer's notAfter (Unix seconds): no response reaches past it.
    pub not_after: i64,
    /// `updated_at` up to which status changes have been looked at.
    watermark: std::sync::atomic::AtomicI64,
    /// When the last full scan ran.
    last_full: std::sync::atomic::AtomicI64,
    /// Until when this process holds the CA's OCSP work lease, as far as it knows (0: not).
    lease_until: std::sync::atomic::AtomicI64,
    /// When this process last asked for the lease.
    lease_asked: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("ca_name", &self.ca_name)
            .field("signer_name", &self.signer_name)
            .finish_non_exhaustive()
    }
}

/// The responders of every issuing CA that has an OCSP signer, and the bounded
/// in-memory cache of stored responses they answer from. The set of responders is
/// swapped as a whole when a signer is rotated ([`reload`]); the cache stays.
#[derive(Debug, Default)]
pub struct Responders {
    list: std::sync::RwLock<Vec<std::sync::Arc<Responder>>>,
    cache: Cache,
    /// `ca.ocsp_validity_hours`.
    validity: Duration,
    /// Who holds the OCSP work leases in this process (`host:pid:random`).
    holder: String,
    /// Live signatures of the nonce mode in the current second.
    nonce_budget: NonceBudget,
}

/// The global cap on live signatures per second (`ca.ocsp_nonce_per_second`).
#[derive(Debug, Default)]
struct NonceBudget(std::sync::Mutex<(i64, u32)>);

impl NonceBudget {
    /// Takes one live signature for the second `now`, if any is left.
    fn take(&self, now: i64, cap: u32) -> bool {
        let Ok(mut g) = self.0.lock() else {
            return false;
        };
        if g.0 != now {
            *g = (now, 0);
        }
        if g.1 >= cap {
            return false;
        }
        g.1 += 1;
        true
    }
}

impl Responders {
    /// The responders now (one per issuing CA with a valid OCSP signer).
    pub fn current(&self) -> Vec<std::sync::Arc<Responder>> {
        self.list.read().map(|g| g.clone()).unwrap_or_default()
    }

    fn find(&self, pred: impl Fn(&Responder) -> bool) -> Option<std::sync::Arc<Responder>> {
        self.list.read().ok()?.iter().find(|r| pred(r)).cloned()
    }
}

/// Pre-signing in the transaction that issues a certificate or changes its status
/// (installed in the store by `kmn serve`): the responses of the new status are in the
/// database when the change commits, so the very next request answers with them.
impl kmn_store::OcspPresign for Responders {
    fn presign(
        &self,
        due: &kmn_store::OcspDue,
        now: i64,
    ) -> Option<Vec<kmn_store::PresignedResponse>> {
        let r = self.find(|r| r.ca_name == due.ca_name)?;
        match sign_due(&r, due, now, self.validity) {
            Ok(signed) => {
                // Whatever this instance cached for it is stale from the commit on.
                self.cache.drop_key(&due.serial_hex, HashAlg::Sha1);
                self.cache.drop_key(&due.serial_hex, HashAlg::Sha256);
                Some(signed)
            }
            Err(e) => {
                tracing::warn!(serial = %due.serial_hex, error = %e, "OCSP response not pre-signed; the signer loop will sign it");
                None
            }
        }
    }
}

/// How many responses the in-memory cache holds at most (each about 0.7 KB): beyond
/// that it starts again empty. The database holds them all.
pub const CACHE_ENTRIES: usize = 200_000;

type CacheKey = (String, HashAlg);

/// Stored responses kept in memory: filled on a read from the database, emptied of every
/// response (re)signed since — by this instance's signer loop at once, by another
/// instance's at the next [`sync_cache`] (every 100 ms) — so a revocation reaches the
/// answers within about 100 ms wherever it was signed.
#[derive(Debug, Default)]
pub struct Cache {
    map: std::sync::Mutex<std::collections::HashMap<CacheKey, Cached>>,
    /// When (Unix seconds) the last look at the stored responses was.
    seen: std::sync::atomic::AtomicI64,
}

#[derive(Clone, Debug)]
struct Cached {
    der: std::sync::Arc<Vec<u8>>,
    next_update: i64,
    good: bool,
}

impl Cache {
    fn get(&self, key: &CacheKey) -> Option<Cached> {
        self.map.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: CacheKey, v: Cached) {
        if let Ok(mut m) = self.map.lock() {
            if m.len() >= CACHE_ENTRIES {
                m.clear();
            }
            m.insert(key, v);
        }
    }

    fn drop_key(&self, serial: &str, hash: HashAlg) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&(serial.to_string(), hash));
        }
    }
}

/// Drops from the cache every response signed since the last look (by any instance).
pub async fn sync_cache(app: &App, responders: &Responders) -> Result<(), AppError> {
    use std::sync::atomic::Ordering;
    let cache = &responders.cache;
    // Two seconds back: a write committed just after the last look, stamped a moment
    // before it, is still seen (and clocks of instances drift a little).
    let since = cache.seen.load(Ordering::Relaxed) - 2;
    let now = app.now();
    let mut tx = app.store.read().await?;
    let changed = tx.ocsp_signed_since(since).await;
    tx.rollback().await?;
    // Both CertID hashes are signed together: both are dropped.
    for serial in changed? {
        cache.drop_key(&serial, HashAlg::Sha1);
        cache.drop_key(&serial, HashAlg::Sha256);
    }
    cache.seen.store(now, Ordering::Relaxed);
    Ok(())
}

/// Loads, for every issuing CA not yet expired, its newest valid OCSP signer (key and
/// certificate). An issuing CA without one is left out (logged; `/health` names it), so
/// an expired signer does not stop the repository, the CRLs and the API.
pub async fn load(app: &App) -> Result<Responders, AppError> {
    let list = load_list(app).await?;
    // The cache starts empty: changes before now do not concern it.
    let cache = Cache {
        seen: std::sync::atomic::AtomicI64::new(app.now()),
        ..Cache::default()
    };
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    Ok(Responders {
        list: std::sync::RwLock::new(list),
        cache,
        validity: Duration::hours(app.cfg.ca.ocsp_validity_hours),
        holder: format!(
            "{}:{}:{}",
            host.trim(),
            std::process::id(),
            crate::ca::new_serial().to_hex()
        ),
        nonce_budget: NonceBudget::default(),
    })
}

/// Installs `responders` as the store's OCSP pre-signer ([`kmn_store::OcspPresign`]):
/// from now on, every transaction of this process that issues a certificate or changes
/// its status signs its responses before it commits.
pub fn install_presigner(app: &App, responders: &std::sync::Arc<Responders>) {
    let p: std::sync::Arc<dyn kmn_store::OcspPresign> = responders.clone();
    app.store.set_ocsp_presigner(Some(p));
}

/// Loads the OCSP signers again (a signer rotated here or by another instance): a
/// responder whose signer changed is replaced, the others keep their place in the
/// change scan. Returns the names of the signers now in use that were not before.
pub async fn reload(app: &App, responders: &Responders) -> Result<Vec<String>, AppError> {
    let cas = list_cas(app).await?;
    let now = app.now();
    // Only the records first: the keys are loaded when a signer changed, not every time.
    let mut wanted: Vec<(String, String)> = chosen_signers(&cas, now)
        .filter_map(|(i, s)| Some((i.name.clone(), s?.name.clone())))
        .collect();
    let current = responders.current();
    let mut held: Vec<(String, String)> = current
        .iter()
        .map(|r| (r.ca_name.clone(), r.signer_name.clone()))
        .collect();
    wanted.sort();
    held.sort();
    if wanted == held {
        return Ok(vec![]);
    }
    let fresh = load_from(app, &cas, now)?;
    let new: Vec<String> = fresh
        .iter()
        .filter(|f| !current.iter().any(|o| o.signer_name == f.signer_name))
        .map(|f| f.signer_name.clone())
        .collect();
    let merged: Vec<std::sync::Arc<Responder>> = fresh
        .into_iter()
        .map(|f| {
            current
                .iter()
                .find(|o| o.signer_name == f.signer_name)
                .cloned()
                .unwrap_or(f)
        })
        .collect();
    if let Ok(mut g) = responders.list.write() {
        *g = merged;
    }
    for n in &new {
        tracing::info!(signer = %n, "OCSP signer in use from now on");
    }
    Ok(new)
}

async fn list_cas(app: &App) -> Result<Vec<kmn_store::CaRecord>, AppError> {
    let mut tx = app.store.read().await?;
    let cas = tx.list_cas().await;
    tx.rollback().await?;
    Ok(cas?)
}

/// Each issuing CA not expired at `now`, with its newest OCSP signer valid at `now`.
fn chosen_signers(
    cas: &[kmn_store::CaRecord],
    now: i64,
) -> impl Iterator<Item = (&kmn_store::CaRecord, Option<&kmn_store::CaRecord>)> {
    cas.iter()
        .filter(move |c| c.kind == CaKind::Issuing && c.not_after > now)
        .map(move |issuing| {
            let signer = cas
                .iter()
                .filter(|c| {
                    c.kind == CaKind::OcspSigner
                        && c.issuer_name.as_deref() == Some(issuing.name.as_str())
                        && c.not_before <= now
                        && c.not_after > now
                })
                .max_by_key(|c| c.not_after);
            (issuing, signer)
        })
}

async fn load_list(app: &App) -> Result<Vec<std::sync::Arc<Responder>>, AppError> {
    let cas = list_cas(app).await?;
    load_from(app, &cas, app.now())
}

/// The responders of [`chosen_signers`], their keys loaded and checked.
fn load_from(
    app: &App,
    cas: &[kmn_store::CaRecord],
    now: i64,
) -> Result<Vec<std::sync::Arc<Responder>>, AppError> {
    let mut out = Vec::new();
    for (issuing, rec) in chosen_signers(cas, now) {
        let Some(rec) = rec else {
            // OCSP answers `unauthorized` for this CA's certificates; everything else is
            // served (and /health says `ocsp_signer_missing`).
            tracing::error!(ca = %issuing.name, "no valid OCSP signer: OCSP cannot answer for this CA's certificates");
            continue;
        };
        let loaded = crate::ca::load_record(app, rec.clone())?;
        // Checks the signer's certificate and key before anything is signed with it.
        ocsp::Responder::new(loaded.signer.as_ref(), &rec.cert_der)?;
        out.push(std::sync::Arc::new(Responder {
            ca_name: issuing.name.clone(),
            signer_name: rec.name.clone(),
            hashes: IssuerHashes::from_cert(&issuing.cert_der)?,
            signer: loaded.signer,
            cert_der: rec.cert_der.clone(),
            not_after: rec.not_after,
            watermark: std::sync::atomic::AtomicI64::new(0),
            last_full: std::sync::atomic::AtomicI64::new(0),
            lease_until: std::sync::atomic::AtomicI64::new(0),
            lease_asked: std::sync::atomic::AtomicI64::new(0),
        }));
    }
    Ok(out)
}

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// How long an OCSP work lease lasts without renewal (the loop renews it every pass).
pub const LEASE_SECS: i64 = 15;

/// Whether this process holds the OCSP work lease of `r`'s CA. The lease is a write
/// transaction, so it is not taken on every 100 ms pass: the holder renews it once half
/// of it is spent, and another instance asks again every third of it. A holder that lost
/// the lease (it stalled for longer than the lease) may go on for the rest of what it
/// believes it holds — at most half a lease — signing what the new holder signs too;
/// the newest status still wins in the store.
async fn hold_lease(
    app: &App,
    responders: &Responders,
    r: &Responder,
    now: i64,
) -> Result<bool, AppError> {
    use std::sync::atomic::Ordering;
    let until = r.lease_until.load(Ordering::Relaxed);
    if until - now > LEASE_SECS / 2 {
        return Ok(true);
    }
    if until <= now && now - r.lease_asked.load(Ordering::Relaxed) < LEASE_SECS / 3 {
        return Ok(false);
    }
    r.lease_asked.store(now, Ordering::Relaxed);
    let mut tx = app.store.begin().await?;
    let h = tx
        .take_ocsp_lease(&r.ca_name, &responders.holder, now, now + LEASE_SECS)
        .await;
    let held = crate::finish(tx, h.map_err(AppError::from)).await?;
    r.lease_until
        .store(if held { now + LEASE_SECS } else { 0 }, Ordering::Relaxed);
    Ok(held)
}

/// The responses (SHA-1 and SHA-256 CertIDs) of one certificate's status, signed at
/// `now` by `r`: valid `validity`, never past the signer's notAfter, linted first.
fn sign_due(
    r: &Responder,
    d: &kmn_store::OcspDue,
    now: i64,
    validity: Duration,
) -> Result<Vec<kmn_store::PresignedResponse>, AppError> {
    let responder = ocsp::Responder::new(r.signer.as_ref(), &r.cert_der)?;
    let produced = at(now);
    let next_update = (produced + validity).min(responder.not_after());
    if next_update <= produced + Duration::hours(1) {
        return Err(AppError::CaState(format!(
            "the OCSP signer {} expires within the hour: `kmn ca new-ocsp-signer` makes a new one",
            r.signer_name
        )));
    }
    let refresh_at = now + (next_update.unix_timestamp() - now) / 2;
    let status = match d.status.as_str() {
        "valid" => ocsp::CertStatus::Good,
        "revoked" => ocsp::CertStatus::Revoked {
            at: at(d.revoked_at.unwrap_or(d.status_version)),
            reason: d
                .reason
                .and_then(|c| u8::try_from(c).ok())
                .and_then(RevocationReason::from_code)
                .ok_or_else(|| {
                    AppError::Internal(format!(
                        "certificate {} is revoked without a reason code",
                        d.serial_hex
                    ))
                })?,
        },
        // On hold (第8条, a suspension): revoked with certificateHold, since the hold was
        // placed (RFC 6960 §2.2).
        "on_hold" => ocsp::CertStatus::Revoked {
            at: at(d.status_version),
            reason: RevocationReason::CertificateHold,
        },
        other => {
            return Err(AppError::Internal(format!(
                "certificate {} has an unknown status {other}",
                d.serial_hex
            )));
        }
    };
    let serial = hex::decode(&d.serial_hex)
        .map_err(|e| AppError::Internal(format!("serial {} is not hex: {e}", d.serial_hex)))?;
    let mut out = Vec::with_capacity(2);
    for hash in [HashAlg::Sha1, HashAlg::Sha256] {
        let params = ResponseParams {
            cert_id: CertId::new(hash, &r.hashes, &serial),
            status,
            produced_at: produced,
            this_update: produced,
            next_update,
            nonce: None,
        };
        out.push(kmn_store::PresignedResponse {
            hash_alg: hash.as_str(),
            der: ocsp::prepare(&params, &responder, &r.hashes)?.sign(&responder)?,
            produced_at: now,
            next_update: next_update.unix_timestamp(),
            refresh_at,
            signer: r.signer_name.clone(),
        });
    }
    Ok(out)
}

/// Signs and stores the responses that are missing, stale or due, and — after a signer
/// was rotated — those still signed by the old one (at most [`REFRESH_BATCH`]
/// certificates per issuing CA and pass), for every issuing CA whose OCSP work lease
/// this process holds; returns how many certificates got new responses.
pub async fn refresh(app: &App, responders: &Responders) -> Result<usize, AppError> {
    let mut done = 0;
    for r in responders.current() {
        let now = app.now();
        // One instance at a time does this CA's work (an HSM signs slowly: two doing
        // the same work would halve it); another takes over when the lease runs out.
        if !hold_lease(app, responders, &r, now).await? {
            continue;
        }
        let (mut due, resign) = {
            let mut tx = app.store.read().await?;
            let d = async {
                let mut due = due_now(&mut tx, &r, now).await?;
                let resign = resign_step(&mut tx, &r, now, &mut due).await?;
                Ok::<_, AppError>((due, resign))
            }
            .await;
            tx.rollback().await?;
            d?
        };
        if due.is_empty() && resign.is_none() {
            stamp_first_ocsp(app, &r).await;
            continue;
        }
        let mut signed = Vec::with_capacity(due.len());
        for d in due.drain(..) {
            let responses = sign_due(&r, &d, now, responders.validity)?;
            signed.push((d, responses));
        }
        let mut tx = app.store.begin().await?;
        let stored_at = app.now();
        let w = async {
            for (d, responses) in &signed {
                for p in responses {
                    tx.put_ocsp_response(&OcspResponseRow {
                        serial_hex: &d.serial_hex,
                        hash_alg: p.hash_alg,
                        ca_name: &r.ca_name,
                        status: &d.status,
                        status_version: d.status_version,
                        der: &p.der,
                        produced_at: p.produced_at,
                        this_update: p.produced_at,
                        next_update: p.next_update,
                        refresh_at: p.refresh_at,
                        signer: &p.signer,
                        stored_at,
                    })
                    .await?;
                }
            }
            // The re-signing walk moves on only with the responses it signed.
            if let Some(next) = &resign {
                tx.set_ocsp_resign_cursor(&r.ca_name, &r.signer_name, next.as_deref())
                    .await?;
                if next.is_none() {
                    tracing::info!(ca = %r.ca_name, signer = %r.signer_name, "every stored OCSP response is signed by the current signer");
                }
            }
            Ok::<_, AppError>(())
        }
        .await;
        crate::finish(tx, w).await?;
        for (d, _) in &signed {
            responders.cache.drop_key(&d.serial_hex, HashAlg::Sha1);
            responders.cache.drop_key(&d.serial_hex, HashAlg::Sha256);
        }
        stamp_first_ocsp(app, &r).await;
        done += signed.len();
    }
    Ok(done)
}

/// How many revocations one pass stamps with their first OCSP response at most.
const STAMP_BATCH: i64 = 500;

/// The evidence (第23条3): the revocations of `r`'s CA that have a stored response showing
/// them revoked — signed in the revocation's own commit, or by this loop — but no first
/// OCSP response recorded yet: each response is read back from the database and checked
/// (signature, CertID, status) before it is recorded. A failure is logged; the next pass
/// tries again.
async fn stamp_first_ocsp(app: &App, r: &Responder) {
    let r2 = async {
        let pending = {
            let mut tx = app.store.read().await?;
            let p = tx
                .revoked_without_first_ocsp(&r.ca_name, app.now(), STAMP_BATCH)
                .await;
            tx.rollback().await?;
            p?
        };
        if pending.is_empty() {
            return Ok(());
        }
        let serials: Vec<&str> = pending.iter().map(String::as_str).collect();
        let spki = kmn_pki::parse::cert(&r.cert_der)?.tbs.spki.to_vec();
        crate::ca::evidence::stamp_first_ocsp(app, &spki, &r.hashes, &serials).await?;
        Ok::<_, AppError>(())
    }
    .await;
    if let Err(e) = r2 {
        tracing::error!(ca = %r.ca_name, error = %e, "the first OCSP response of a revocation could not be read back and recorded (第23条3)");
    }
}

/// One step of the re-signing walk after a rotation: adds to `due` the next stored
/// responses signed by another signer than `r`'s (as many as the pass has room for) and
/// returns the walk's new cursor (`Some(None)`: the walk is complete), or `None` when
/// there is nothing to walk.
async fn resign_step(
    tx: &mut kmn_store::Tx,
    r: &Responder,
    now: i64,
    due: &mut Vec<kmn_store::OcspDue>,
) -> Result<Option<Option<String>>, AppError> {
    let Some(cursor) = tx.ocsp_resign_cursor(&r.ca_name, &r.signer_name).await? else {
        return Ok(None);
    };
    let room = REFRESH_BATCH - i64::try_from(due.len()).unwrap_or(REFRESH_BATCH);
    if room <= 0 {
        return Ok(None);
    }
    let (more, next) = tx
        .ocsp_signed_by_other(&r.ca_name, &r.signer_name, &cursor, now, room)
        .await?;
    for d in more {
        if !due.iter().any(|x| x.serial_hex == d.serial_hex) {
            due.push(d);
        }
    }
    Ok(Some(next))
}

/// What to sign now for one issuing CA: the certificates changed since the last look (an
/// index range over `updated_at`, looking [`CHANGE_OVERLAP_SECS`] back), those due for
/// their half-way refresh (the index on `refresh_at`), and every [`FULL_SCAN_SECS`] — or
/// when one second holds more changes than a look takes — the full scan.
async fn due_now(
    tx: &mut kmn_store::Tx,
    r: &Responder,
    now: i64,
) -> Result<Vec<kmn_store::OcspDue>, AppError> {
    use std::sync::atomic::Ordering;
    let since = r.watermark.load(Ordering::Relaxed) - CHANGE_OVERLAP_SECS;
    let changed = tx
        .ocsp_changed_since(&r.ca_name, since, now, CHANGE_SCAN)
        .await?;
    let mut full = now - r.last_full.load(Ordering::Relaxed) >= FULL_SCAN_SECS;
    let limit = usize::try_from(REFRESH_BATCH).unwrap_or(usize::MAX);
    let stale = changed.iter().filter(|(_, s)| *s).count();
    if stale > limit {
        // More to sign than one pass signs: look from the same point again next time.
    } else if i64::try_from(changed.len()).unwrap_or(i64::MAX) >= CHANGE_SCAN {
        let first = changed.first().map_or(0, |(d, _)| d.status_version);
        let last = changed.last().map_or(0, |(d, _)| d.status_version);
        if first == last {
            // More changes in one second than a look takes: the full scan this time.
            full = true;
        } else {
            r.watermark.store(last, Ordering::Relaxed);
        }
    } else {
        r.watermark.store(now, Ordering::Relaxed);
    }
    let mut due: Vec<kmn_store::OcspDue> = changed
        .into_iter()
        .filter(|(_, stale)| *stale)
        .map(|(d, _)| d)
        .take(limit)
        .collect();
    if due.len() < limit {
        let left = i64::try_from(limit - due.len()).unwrap_or(0);
        due.extend(tx.ocsp_refresh_due(&r.ca_name, now, left).await?);
    }
    if full && due.len() < limit {
        r.last_full.store(now, Ordering::Relaxed);
        due.extend(tx.ocsp_due(&r.ca_name, now, REFRESH_BATCH).await?);
    }
    let mut seen = std::collections::HashSet::new();
    due.retain(|d| seen.insert(d.serial_hex.clone()));
    due.truncate(limit);
    Ok(due)
}

/// `kmn serve`'s OCSP signer: every 100 ms, [`refresh`] (a revocation reaches OCSP
/// within about 100 ms of its commit, from any process or instance).
pub async fn signer_loop(
    app: App,
    responders: std::sync::Arc<Responders>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut last_look = 0;
    loop {
        if let Err(e) = sync_cache(&app, &responders).await {
            tracing::error!(error = %e, "OCSP cache: changes could not be read");
        }
        // Every few seconds: a signer rotated by another instance is taken up, and this
        // instance rotates a signer whose time has come.
        let now = app.now();
        if now - last_look >= RELOAD_SECS {
            last_look = now;
            if let Err(e) = rotate_if_due(&app, &responders).await {
                tracing::error!(error = %e, "OCSP signer rotation failed; retrying");
            }
            if let Err(e) = reload(&app, &responders).await {
                tracing::error!(error = %e, "OCSP signers could not be reloaded");
            }
        }
        match refresh(&app, &responders).await {
            Ok(n) if n >= usize::try_from(REFRESH_BATCH).unwrap_or(usize::MAX) => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "OCSP responses could not be signed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// How often the signer loop looks for a rotated signer, seconds.
pub const RELOAD_SECS: i64 = 5;

/// When a responder's signer must be replaced: at notAfter − (response validity +
/// re-signing time), so that every stored response can be signed again by the new
/// signer before the old one's responses would have to be cut short (and no response
/// ever reaches past its signer's notAfter).
pub fn rotation_due_at(signer_not_after: i64, app: &App) -> i64 {
    signer_not_after - (app.cfg.ca.ocsp_validity_hours + app.cfg.ca.ocsp_resign_hours) * 3600
}

/// Rotates the OCSP signer of the active issuing CA when its time has come (see
/// [`rotation_due_at`]) and this instance holds that CA's work lease; the next
/// [`reload`] takes the new signer up and [`refresh`] re-signs every stored response.
/// Returns the new signer's name.
pub async fn rotate_if_due(app: &App, responders: &Responders) -> Result<Option<String>, AppError> {
    let now = app.now();
    let active = {
        let mut tx = app.store.read().await?;
        let a = tx.active_ca(CaKind::Issuing).await;
        tx.rollback().await?;
        a?
    };
    let Some(active) = active else {
        return Ok(None);
    };
    let Some(r) = responders.find(|r| r.ca_name == active.name) else {
        return Ok(None);
    };
    if now < rotation_due_at(r.not_after, app) {
        return Ok(None);
    }
    if !hold_lease(app, responders, &r, now).await? {
        return Ok(None);
    }
    // Another instance may have rotated it already: the newest valid signer decides.
    let cas = list_cas(app).await?;
    if chosen_signers(&cas, now).any(|(i, s)| {
        i.name == r.ca_name && s.is_some_and(|s| now < rotation_due_at(s.not_after, app))
    }) {
        return Ok(None);
    }
    let made = crate::ca::rotate_ocsp_signer(app, "system:ocsp-rotation").await?;
    tracing::info!(signer = %made.name, "OCSP signer rotated");
    Ok(Some(made.name))
}

/// An answer of the responder: the DER body and, for a successful response, its
/// nextUpdate (for `Cache-Control`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The `OCSPResponse` DER.
    pub der: Vec<u8>,
    /// nextUpdate of a successful response.
    pub next_update: Option<i64>,
    /// What was answered, for the log: `good`, `revoked`, or the error status.
    pub outcome: &'static str,
}

fn refusal(status: ResponseStatus, outcome: &'static str) -> Answer {
    Answer {
        der: ocsp::unsigned(status),
        next_update: None,
        outcome,
    }
}

/// The request path: answers one OCSP request from the stored responses (a read; never
/// a signature, never SQLite's write lock).
pub async fn answer(app: &App, responders: &Responders, request_der: &[u8]) -> Answer {
    let req = match ocsp::parse_request(request_der) {
        Ok(r) => r,
        Err(_) => return refusal(ResponseStatus::MalformedRequest, "malformedRequest"),
    };
    let nonce = match app.cfg.ca.ocsp_nonce {
        crate::config::OcspNonce::Ignore => None,
        crate::config::OcspNonce::Echo => match req.nonce() {
            Ok(n) => n.map(<[u8]>::to_vec),
            Err(_) => return refusal(ResponseStatus::MalformedRequest, "malformedRequest"),
        },
    };
    let Some(r) = responders.find(|r| r.hashes.matches(&req.cert_id)) else {
        return refusal(ResponseStatus::Unauthorized, "unauthorized");
    };
    let stored = answer_stored(app, responders, &req, &r).await;
    match nonce {
        Some(n)
            if stored.next_update.is_some()
                && responders
                    .nonce_budget
                    .take(app.now(), app.cfg.ca.ocsp_nonce_per_second) =>
        {
            match sign_live(app, &r, &req.cert_id, &stored.der, n).await {
                Ok(der) => Answer {
                    der,
                    // Made for this request: no cache may keep it.
                    next_update: None,
                    outcome: stored.outcome,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "OCSP nonce response not signed; answering the pre-signed one");
                    stored
                }
            }
        }
        _ => stored,
    }
}

/// The nonce mode's live response: the stored response's status and interval, produced
/// now for `cert_id` as asked, with the request's nonce echoed (RFC 8954), linted and
/// signed on a blocking thread (an HSM signs slowly; the cached answers go on meanwhile).
async fn sign_live(
    app: &App,
    r: &std::sync::Arc<Responder>,
    cert_id: &CertId,
    stored_der: &[u8],
    nonce_ext_value: Vec<u8>,
) -> Result<Vec<u8>, AppError> {
    let single = ocsp::parse_response(stored_der)?
        .single
        .ok_or_else(|| AppError::Internal("a stored OCSP response is not successful".into()))?;
    let (Some(status), Some(next_update)) = (single.status, single.next_update) else {
        return Err(AppError::Internal(
            "a stored OCSP response has no status or nextUpdate".into(),
        ));
    };
    let params = ResponseParams {
        cert_id: cert_id.clone(),
        status,
        produced_at: at(app.now()).max(single.this_update),
        this_update: single.this_update,
        next_update,
        nonce: Some(nonce_ext_value),
    };
    let r = r.clone();
    tokio::task::spawn_blocking(move || -> Result<Vec<u8>, AppError> {
        let responder = ocsp::Responder::new(r.signer.as_ref(), &r.cert_der)?;
        Ok(ocsp::prepare(&params, &responder, &r.hashes)?.sign(&responder)?)
    })
    .await
    .map_err(|e| AppError::Internal(format!("OCSP signing task failed: {e}")))?
}

/// The pre-signed answer for `req` (issuer `r`): the cache, else the database.
async fn answer_stored(
    app: &App,
    responders: &Responders,
    req: &ocsp::OcspRequest,
    r: &Responder,
) -> Answer {
    let Some(serial_hex) = req.cert_id.serial_hex() else {
        return refusal(ResponseStatus::Unauthorized, "unauthorized");
    };
    let key = (serial_hex.clone(), req.cert_id.hash);
    let now = app.now();
    if let Some(c) = responders.cache.get(&key)
        && c.next_update > now
    {
        return Answer {
            outcome: if c.good { "good" } else { "revoked" },
            der: c.der.as_ref().clone(),
            next_update: Some(c.next_update),
        };
    }
    let r = async {
        let mut tx = app.store.read().await?;
        let stored = tx
            .ocsp_response(&serial_hex, req.cert_id.hash.as_str())
            .await;
        let issued = match &stored {
            Ok(None) => tx.issued_end_entity(&r.ca_name, &serial_hex).await,
            _ => Ok(false),
        };
        tx.rollback().await?;
        Ok::<_, AppError>((stored?, issued?))
    }
    .await;
    match r {
        Ok((Some(s), _)) if s.next_update > now => {
            let good = s.status == "valid";
            responders.cache.put(
                key,
                Cached {
                    der: std::sync::Arc::new(s.der.clone()),
                    next_update: s.next_update,
                    good,
                },
            );
            Answer {
                outcome: if good { "good" } else { "revoked" },
                der: s.der,
                next_update: Some(s.next_update),
            }
        }
        // Issued a moment ago (or its response lapsed): the signer loop is on it.
        Ok((Some(_), _) | (None, true)) => refusal(ResponseStatus::TryLater, "tryLater"),
        Ok((None, false)) => refusal(ResponseStatus::Unauthorized, "unauthorized"),
        Err(e) => {
            tracing::error!(error = %e, "OCSP lookup failed");
            refusal(ResponseStatus::TryLater, "tryLater")
        }
    }
}

#[cfg(test)]
mod nonce_tests {
    use super::NonceBudget;

    /// RFC 8954 echo mode: at most `cap` live signatures a second, all clients together;
    /// the next second starts afresh.
    #[test]
    fn rfc8954_live_signatures_are_capped_per_second() {
        let b = NonceBudget::default();
        assert_eq!((0..5).filter(|_| b.take(100, 3)).count(), 3);
        assert!(!b.take(100, 3));
        assert!(b.take(101, 3));
    }
}
