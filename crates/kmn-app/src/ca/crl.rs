//! CRL publication (第16条, DESIGN §4–5): number by compare-and-set, thisUpdate never
//! earlier than the last one, entries from one consistent read, signed after the lints,
//! written atomically, fetched back and checked (signature and number) before it is
//! recorded as published, and every revocation it lists for the first time stamped
//! with it (第23条3) — exactly those it encodes, taken from the same read as its
//! entries, so that a revocation committed while a CRL is built, signed, written or
//! read back stays unstamped and makes the next CRL due at once.

use std::path::PathBuf;

use kmn_domain::{CrlNumber, RevocationReason};
use kmn_pki::cert::IssuerInfo;
use kmn_pki::crl::{CrlEntry, CrlParams, build_and_sign};
use kmn_pki::keys::Signer;
use kmn_store::{CaKind, CrlRecord, NewAuditEvent, Tx};
use time::{Duration, OffsetDateTime};

use crate::ca::repo;
use crate::{App, AppError, secrets};

/// A published CRL.
#[derive(Clone, Debug)]
pub struct Published {
    /// CA name.
    pub ca_name: String,
    /// CRL number.
    pub number: i64,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: OffsetDateTime,
    /// Entries.
    pub entries: usize,
    /// The file.
    pub path: PathBuf,
}

/// The fields of a DER CRL that publication checks: (number, thisUpdate), with the
/// signature verified against `spki` ([`kmn_pki::crl::read_back`]).
pub fn check_crl(der: &[u8], spki: &[u8]) -> Result<(i64, OffsetDateTime), AppError> {
    let r = kmn_pki::crl::read_back(der, spki)
        .map_err(|e| AppError::Internal(format!("the published CRL does not read back: {e}")))?;
    Ok((r.number.0, r.this_update))
}

/// The CRL number of the file currently in this host's repository, if any. The floor of
/// the next number is the database's (the last taken and the last published, shared by
/// every instance); this file is an extra floor for one case the database cannot see: a
/// crash on this host between the rename and the commit, whose file relying parties may
/// already have fetched, must never let its number be used again. Read without checking
/// the signature: a forged file could only make numbers skip ahead, which is harmless.
fn number_on_disk(app: &App, ca_name: &str) -> Option<i64> {
    let der = std::fs::read(app.repo_dir().join(repo::crl_file(ca_name))).ok()?;
    kmn_pki::crl::number_unchecked(&der).map(|n| n.0)
}

/// Builds, signs and publishes the CRL of `ca_name` inside `tx` (which the caller commits).
pub async fn publish_in_tx(
    app: &App,
    tx: &mut Tx,
    ca_name: &str,
    issuer: &IssuerInfo,
    signer: &dyn Signer,
    validity: Duration,
    actor: &str,
) -> Result<Published, AppError> {
    repo::check_writable(&app.repo_dir())?;
    let state = tx.crl_state(ca_name).await?;
    let on_disk = number_on_disk(app, ca_name).unwrap_or(0);
    let number = CrlNumber(
        state
            .last_number
            .0
            .max(state.last_published_number.0)
            .max(on_disk)
            + 1,
    );
    let now = app.clock.now();
    let last_tu = OffsetDateTime::from_unix_timestamp(state.last_this_update)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let this_update = now.max(last_tu);
    tx.take_crl_number(
        ca_name,
        state.last_number,
        number,
        this_update.unix_timestamp(),
    )
    .await?;
    // One read gives both what is encoded and what is stamped (第23条3): a revocation
    // committed after it is in neither, and the next CRL lists it.
    let snapshot = tx.crl_snapshot(ca_name, now.unix_timestamp()).await?;
    let first_listed = snapshot.first_listed;
    let rows = snapshot.entries;
    let entries = rows
        .iter()
        .map(|r| {
            let reason = RevocationReason::from_code(r.reason).ok_or_else(|| {
                AppError::Internal(format!("unknown reason code {} in the database", r.reason))
            })?;
            Ok(CrlEntry::new(
                r.serial(),
                r.revoked_at,
                reason,
                r.invalidity_date,
            )?)
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    drop(rows);
    let params = CrlParams {
        number,
        this_update,
        next_update: this_update + validity,
        previous: (state.last_number.0 > 0).then_some((state.last_number, last_tu)),
    };
    let signed = build_and_sign(&params, &entries, issuer, signer)?;
    let path = app.repo_dir().join(repo::crl_file(ca_name));
    secrets::write_atomic(&path, &signed.der, 0o644)?;
    // Fetch it back and check it before reporting it as published (DESIGN §5).
    let back = std::fs::read(&path)
        .map_err(|e| AppError::Io(format!("cannot read back {}: {e}", path.display())))?;
    let (n, tu) = check_crl(&back, &issuer.spki_der)?;
    if n != number.0 || tu != this_update {
        return Err(AppError::Internal(format!(
            "the CRL read back has number {n}, expected {number}"
        )));
    }
    let published_at = app.now();
    use sha2::Digest;
    let rec = CrlRecord {
        ca_name: ca_name.to_string(),
        number: number.0,
        this_update: this_update.unix_timestamp(),
        next_update: params.next_update.unix_timestamp(),
        entries: entries.len() as i64,
        sha256: hex::encode(sha2::Sha256::digest(&back)),
        published_at,
    };
    #[cfg(feature = "fault-points")]
    crate::fault::crl_before_stamp(
        app,
        crate::fault::CrlPause {
            ca_name: ca_name.to_string(),
            number: number.0,
            path: path.clone(),
        },
    )
    .await;
    if !tx.record_published_crl(&rec, &first_listed).await? {
        return Err(AppError::Conflict(format!(
            "a CRL numbered above {number} of {ca_name} was published meanwhile"
        )));
    }
    // The bytes too, so that every instance serves them (DESIGN §7).
    tx.keep_crl_der(ca_name, number.0, &back).await?;
    tx.append_audit(&NewAuditEvent {
        at: published_at,
        actor,
        action: "crl.publish",
        object: &format!("crl:{ca_name}/{number}"),
        facility: None,
        summary: &format!(
            "CRL #{number} of {ca_name}: {} entries, thisUpdate {}, nextUpdate {}",
            entries.len(),
            kmn_domain::time_fmt::rfc3339(this_update),
            kmn_domain::time_fmt::rfc3339(params.next_update)
        ),
    })
    .await?;
    Ok(Published {
        ca_name: ca_name.to_string(),
        number: number.0,
        this_update,
        next_update: params.next_update,
        entries: entries.len(),
        path,
    })
}

/// Commits a publication, or rolls it back on error.
pub(crate) async fn finish(tx: Tx, r: Result<Published, AppError>) -> Result<Published, AppError> {
    crate::finish(tx, r).await
}

/// `kmn crl publish`: a new CRL for every issuing CA that can still sign one.
/// Retries a compare-and-set conflict (another instance published meanwhile) twice.
pub async fn publish_all(app: &App, actor: &str) -> Result<Vec<Published>, AppError> {
    publish_cas(app, actor, None).await
}

/// A new CRL for each issuing CA named in `only` (all of them: `None`) that can still
/// sign one; see [`publish_all`].
pub(crate) async fn publish_cas(
    app: &App,
    actor: &str,
    only: Option<&[String]>,
) -> Result<Vec<Published>, AppError> {
    let mut tx = app.store.begin().await?;
    let cas = tx.list_cas().await?;
    tx.rollback().await?;
    let now = app.now();
    let mut out = Vec::new();
    let issuing: Vec<_> = cas
        .into_iter()
        .filter(|c| c.kind == CaKind::Issuing && c.not_after > now)
        .filter(|c| only.is_none_or(|o| o.contains(&c.name)))
        .collect();
    if issuing.is_empty() {
        return Err(AppError::CaState(
            "no CA in this data dir: run `kmn ca init` (or `kmn up`) first".into(),
        ));
    }
    for rec in issuing {
        let ca = crate::ca::load_record(app, rec)?;
        let mut attempt = 0;
        loop {
            let mut tx = app.store.begin().await?;
            let validity = Duration::hours(app.cfg.ca.crl_next_update_hours);
            let r = publish_in_tx(
                app,
                &mut tx,
                &ca.record.name,
                &ca.info,
                ca.signer.as_ref(),
                validity,
                actor,
            )
            .await;
            match finish(tx, r).await {
                Err(AppError::Conflict(_)) if attempt < 2 => attempt += 1,
                other => {
                    out.push(other?);
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// Whether a CRL is due for `ca_name`: a revocation or a hold change not yet in any CRL
/// (publish within a second, 第16条), or the last thisUpdate older than the interval (24 h).
pub async fn due(app: &App, ca_name: &str) -> Result<bool, AppError> {
    let mut tx = app.store.read().await?;
    let pending = tx.unpublished_revocations(ca_name, app.now()).await?
        + tx.unpublished_status_changes(ca_name).await?;
    let state = tx.crl_state(ca_name).await?;
    tx.rollback().await?;
    let age = app.now() - state.last_this_update;
    Ok(pending > 0 || age >= app.cfg.ca.crl_interval_hours * 3600)
}

/// The publisher of `kmn serve`: for each issuing CA, publishes a CRL when one is due (a
/// new revocation or hold change, from any process or instance, or 24 h since the last),
/// woken by PostgreSQL's notifications or, on SQLite, a 200 ms poll; and keeps this
/// instance's repository CRLs equal to the newest in the database
/// ([`crate::ca::publisher`]).
pub async fn publisher_loop(
    app: App,
    cas: Vec<crate::ca::LoadedCa>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    crate::ca::publisher::run(app, cas, stop).await
}
