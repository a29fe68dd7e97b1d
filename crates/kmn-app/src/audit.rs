//! An audit trail that outlives a hostile database administrator (issue 9 item 6).
//!
//! The hash chain in the database ([`kmn_store::Store::verify_audit`]) detects a changed
//! event, but someone who can write the database can also delete the last events and
//! move the head row back (a *rewound* chain), or recompute every hash after a change (a
//! *rewritten* chain). So the chain's head is signed:
//!
//! - **Checkpoints** ([`checkpoint`]): a CMS SignedData (RFC 5652) over a small DER
//!   record (`docs/AUDIT-CHECKPOINT.asn1`: number, the last event's sequence number and
//!   hash, the signing time, the previous checkpoint's SHA-256), signed by the **audit
//!   signer** — a key of its own (software, encrypted like the CA keys, or in the HSM),
//!   certified by the issuing CA (profile `audit-signer`, id-kp-documentSigning) and
//!   included in the SignedData, so that `openssl cms -verify` checks a checkpoint with
//!   the root certificate alone. `kmn serve` signs one hourly when the chain moved and
//!   after every CRL publication (so after every revocation); `kmn audit checkpoint`
//!   signs one on demand. A checkpoint is signed only when the chain still extends the
//!   previous one: a rewritten chain is never signed over.
//! - The signed files are kept **outside the database** (`audit.checkpoint_dir`,
//!   `<data-dir>/audit-checkpoints` by default: `00000001.p7s`, … and `latest.p7s`),
//!   served read-only at `/repo/audit/checkpoints/…`, and copied into the database.
//! - [`verify`] checks the chain against the newest checkpoint **file** (not the
//!   database's copy): its signature and its signer's path to the root certificate in the
//!   repository, then that the chain contains the signed event with the signed hash and
//!   extends it.
//! - Reads of personal data go to `access_log` only (so they never wait for the chain's
//!   head); [`seal_access_log`] seals them into the chain in batches (one
//!   `access_log.seal` event with the batch's hash), and [`verify`] checks every seal.

use std::path::{Path, PathBuf};

use kmn_domain::ProfileKind;
use kmn_pki::cert::{CertTemplate, Urls};
use kmn_pki::checkpoint::AuditCheckpoint;
use kmn_pki::keys::Signer;
use kmn_pki::lint::Expectations;
use kmn_pki::{cms, parse};
use kmn_store::{AuditEvent, CaKind, CaRecord, CheckpointRow, Tx};
use sha2::Digest;
use time::{Duration, OffsetDateTime};

use crate::actor::Actor;
use crate::ca::repo;
use crate::ca::{self, LoadedCa};
use crate::{App, AppError, secrets};

/// The newest checkpoint's file name, next to the numbered ones.
pub const LATEST: &str = "latest.p7s";

/// Days an audit signer's certificate is valid (never beyond its issuing CA's).
pub const AUDIT_SIGNER_DAYS: i64 = 730;

/// `kmn serve` makes a new audit signer when the active one expires within this many days.
pub const AUDIT_SIGNER_RENEW_DAYS: i64 = 30;

/// The file name of checkpoint `n`.
pub fn file_name(n: u64) -> String {
    format!("{n:08}.p7s")
}

/// Where the checkpoint files are kept.
pub fn checkpoint_dir(app: &App) -> PathBuf {
    app.cfg.checkpoint_dir(&app.data_dir)
}

/// The numbered checkpoint files in `dir`, oldest first.
pub fn checkpoint_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, AppError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => {
            return Err(AppError::Io(format!(
                "cannot read the checkpoint directory {}: {e}",
                dir.display()
            )));
        }
    };
    let mut v: Vec<(u64, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let n = name.strip_suffix(".p7s")?;
            (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse().ok())
                .flatten()
                .map(|n| (n, e.path()))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// A checkpoint file read and its CMS signature checked.
#[derive(Clone, Debug)]
pub struct CheckpointFile {
    /// The record.
    pub record: AuditCheckpoint,
    /// The SignedData, verified.
    pub signed: cms::Verified,
    /// SHA-256 of the file.
    pub sha256: [u8; 32],
}

/// Reads a checkpoint (a file's bytes) and checks its CMS signature.
pub fn read_checkpoint(bytes: &[u8]) -> Result<CheckpointFile, AppError> {
    let signed = cms::verify(bytes)?;
    // The same key signs revocation receipts, under their own eContentType.
    if !signed.content_type_is(&kmn_pki::oid::CMS_DATA) {
        return Err(AppError::BadInput(
            "not an audit checkpoint: its eContentType is not id-data".into(),
        ));
    }
    let record = AuditCheckpoint::from_der(&signed.content)?;
    Ok(CheckpointFile {
        record,
        signed,
        sha256: sha2::Sha256::digest(bytes).into(),
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, AppError> {
    std::fs::read(path).map_err(|e| AppError::Io(format!("cannot read {}: {e}", path.display())))
}

/// Checks that `events` (in order, starting right after the event `start` with hash
/// `start_hash`, or at 1 after the genesis) form a chain: no gap, each follows the
/// previous and hashes to its stored hash. Returns the last (seq, hash).
fn walk(events: &[AuditEvent], start: i64, start_hash: &str) -> Result<(i64, String), String> {
    let mut seq = start;
    let mut prev = start_hash.to_string();
    for e in events {
        if e.seq != seq + 1 {
            return Err(format!(
                "event {} is missing (the next stored event is {})",
                seq + 1,
                e.seq
            ));
        }
        if e.prev_hash != prev {
            return Err(format!("event {} does not follow event {seq}", e.seq));
        }
        if e.recomputed_hash() != e.hash {
            return Err(format!(
                "event {} ({} on {}) does not match its hash",
                e.seq, e.action, e.object
            ));
        }
        seq = e.seq;
        prev = e.hash.clone();
    }
    Ok((seq, prev))
}

/// Checks, inside `tx`, that the chain contains `cp`'s event with its hash and extends it
/// consistently to the head row. An error says how it does not (in English, for the CA
/// administrator).
async fn chain_extends(tx: &mut Tx, cp: &AuditCheckpoint) -> Result<(), AppError> {
    let (head_seq, head_hash) = tx.audit_head().await?;
    let seq = cp.event_seq as i64;
    let want = hex::encode(cp.head_hash);
    let refuse = |why: String| {
        AppError::CaState(format!(
            "the audit chain does not extend checkpoint #{} (event {seq}, signed {}): {why}; no checkpoint was signed — run `kmn audit verify`",
            cp.number,
            kmn_domain::time_fmt::rfc3339(cp.signed_at)
        ))
    };
    let start_hash = if seq == 0 {
        kmn_store::AUDIT_GENESIS.to_string()
    } else {
        let e = tx
            .audit_event(seq)
            .await?
            .ok_or_else(|| refuse(format!("event {seq} is gone (the chain was rewound)")))?;
        if e.hash != want || e.recomputed_hash() != want {
            return Err(refuse(format!(
                "event {seq} no longer has the signed hash (the chain was rewritten)"
            )));
        }
        want
    };
    let after = tx.audit_events_after(seq).await?;
    let (last, last_hash) = walk(&after, seq, &start_hash).map_err(refuse)?;
    if last != head_seq || last_hash != head_hash {
        return Err(refuse(format!(
            "the head row says event {head_seq}, the stored events end at {last}"
        )));
    }
    Ok(())
}

/// A signed checkpoint.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Its number.
    pub number: u64,
    /// The last event it covers.
    pub event_seq: u64,
    /// That event's hash (hex).
    pub head_hash: String,
    /// When it was signed.
    pub signed_at: OffsetDateTime,
    /// Its file.
    pub path: PathBuf,
    /// The audit signer's name.
    pub signer: String,
}

/// The active audit signer with its key, if this data dir has one.
pub async fn load_signer(app: &App) -> Result<Option<LoadedCa>, AppError> {
    let mut tx = app.store.read().await?;
    let rec = tx.active_ca(CaKind::AuditSigner).await;
    tx.rollback().await?;
    match rec? {
        Some(r) => Ok(Some(ca::load_record(app, r)?)),
        None => Ok(None),
    }
}

fn no_signer() -> AppError {
    AppError::CaState(
        "this data dir has no audit signer yet: run `kmn audit key` (or start `kmn serve`, which makes one)".into(),
    )
}

/// `kmn audit checkpoint`: seals the reads logged so far, then signs the chain's head
/// with the active audit signer.
/// `kmn audit checkpoint`: the CA administrator signs a checkpoint on demand.
pub async fn checkpoint(app: &App, who: &crate::rights::CaAdmin) -> Result<Checkpoint, AppError> {
    checkpoint_as(app, who.name()).await
}

/// Signs a checkpoint as `actor`.
async fn checkpoint_as(app: &App, actor: &str) -> Result<Checkpoint, AppError> {
    let signer = load_signer(app).await?.ok_or_else(no_signer)?;
    seal_access_log(app, actor).await?;
    checkpoint_with(app, &signer.record, signer.signer.as_ref()).await
}

/// Signs a checkpoint of the chain's head with the audit signer `rec` (key `signer`).
pub(crate) async fn checkpoint_with(
    app: &App,
    rec: &CaRecord,
    signer: &dyn Signer,
) -> Result<Checkpoint, AppError> {
    let dir = checkpoint_dir(app);
    secrets::ensure_dir(&dir, 0o755)?;
    let files = checkpoint_files(&dir)?;
    let mut tx = app.store.read().await?;
    let r = async {
        let db_last = tx.last_checkpoint().await?;
        let file_last = match files.last() {
            Some((_, p)) => Some(read_checkpoint(&read_file(p)?)?),
            None => None,
        };
        // The previous checkpoint: the newest file; the database's copy only when the
        // files are behind it (a new checkpoint directory).
        let previous = match (file_last, &db_last) {
            (Some(f), Some(d)) if (d.number as u64) > f.record.number => {
                Some(read_checkpoint(&d.der)?)
            }
            (Some(f), _) => Some(f),
            (None, Some(d)) => Some(read_checkpoint(&d.der)?),
            (None, None) => None,
        };
        let start = match &previous {
            Some(p) => p.record.clone(),
            None => AuditCheckpoint {
                number: 0,
                event_seq: 0,
                head_hash: [0; 32],
                signed_at: OffsetDateTime::UNIX_EPOCH,
                previous: [0; 32],
            },
        };
        chain_extends(&mut tx, &start).await?;
        let (seq, hash) = tx.audit_head().await?;
        let issuer_cert = match &rec.issuer_name {
            Some(n) => tx
                .list_cas()
                .await?
                .into_iter()
                .find(|c| &c.name == n)
                .map(|c| c.cert_der),
            None => None,
        };
        Ok::<_, AppError>((previous, seq, hash, issuer_cert))
    }
    .await;
    tx.rollback().await?;
    let (previous, seq, hash, issuer_cert) = r?;
    let head_hash: [u8; 32] = hex::decode(&hash)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| {
            AppError::Internal(format!("the audit head hash '{hash}' is not SHA-256"))
        })?;
    let now = app.clock.now();
    let signed_at = now.replace_nanosecond(0).unwrap_or(now);
    let record = AuditCheckpoint {
        number: previous.as_ref().map(|p| p.record.number).unwrap_or(0) + 1,
        event_seq: seq as u64,
        head_hash,
        signed_at,
        previous: previous.as_ref().map(|p| p.sha256).unwrap_or([0; 32]),
    };
    let chain: Vec<&[u8]> = issuer_cert.iter().map(Vec::as_slice).collect();
    let der = cms::sign(&record.to_der(), &rec.cert_der, &chain, signer, signed_at)?;
    let path = dir.join(file_name(record.number));
    if path.exists() {
        return Err(AppError::Conflict(format!(
            "checkpoint file {} exists already (another instance signed one meanwhile)",
            path.display()
        )));
    }
    secrets::write_atomic(&path, &der, 0o644)?;
    secrets::write_atomic(&dir.join(LATEST), &der, 0o644)?;
    let row = CheckpointRow {
        number: record.number as i64,
        event_seq: seq,
        head_hash: hash.clone(),
        signed_at: signed_at.unix_timestamp(),
        previous_sha256: hex::encode(record.previous),
        sha256: hex::encode(sha2::Sha256::digest(&der)),
        signer: rec.name.clone(),
        der,
    };
    let mut tx = app.store.begin().await?;
    let r = tx.insert_checkpoint(&row).await.map_err(AppError::from);
    crate::finish(tx, r).await?;
    Ok(Checkpoint {
        number: record.number,
        event_seq: record.event_seq,
        head_hash: hash,
        signed_at,
        path,
        signer: rec.name.clone(),
    })
}

/// Seals the reads of personal data not sealed yet (in batches of 5000) into the chain;
/// returns how many.
pub async fn seal_access_log(app: &App, actor: &str) -> Result<i64, AppError> {
    let mut total = 0;
    loop {
        let mut tx = app.store.begin().await?;
        let r = tx
            .seal_access_log(app.now(), actor, 5000)
            .await
            .map_err(AppError::from);
        match crate::finish(tx, r).await? {
            Some(s) => {
                total += s.rows;
                if s.rows < 5000 {
                    return Ok(total);
                }
            }
            None => return Ok(total),
        }
    }
}

/// Records a read of personal data (MHLW guideline G1) in its own short transaction, for
/// the read-only use cases (the read itself ran in a read transaction, so it never waited
/// for the write lock; the chain's head is not touched: [`seal_access_log`] seals it).
/// The caller returns the data only when this succeeded.
pub async fn log_read(
    app: &App,
    actor: &Actor,
    action: &str,
    object: &str,
    facility: Option<&str>,
) -> Result<(), AppError> {
    let mut tx = app.store.begin().await?;
    let r = tx
        .log_access(
            app.now(),
            &actor.account_id,
            actor.role.as_str(),
            action,
            object,
            facility,
        )
        .await
        .map_err(AppError::from);
    crate::finish(tx, r).await
}

/// What `kmn audit verify` found.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// What was checked and held, one line each.
    pub checked: Vec<String>,
    /// Warnings that do not fail the verification.
    pub warnings: Vec<String>,
    /// Problems: any one fails the verification.
    pub problems: Vec<String>,
}

/// The certificates in the repository directory: (self-signed anchors, the others).
fn repository_certs(app: &App) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut anchors, mut others) = (vec![], vec![]);
    if let Ok(rd) = std::fs::read_dir(app.repo_dir()) {
        for e in rd.flatten() {
            if e.path().extension().and_then(|x| x.to_str()) != Some("crt") {
                continue;
            }
            let Ok(der) = std::fs::read(e.path()) else {
                continue;
            };
            let self_signed = parse::cert(&der)
                .map(|c| c.tbs.issuer == c.tbs.subject)
                .unwrap_or(false);
            if self_signed {
                anchors.push(der);
            } else {
                others.push(der);
            }
        }
    }
    (anchors, others)
}

/// Checks that a checkpoint's signer is an audit signer certified (through the issuing
/// CA) by a root whose certificate is in the repository directory — files, not the
/// database, which the attacker controls. Returns the signer's subject.
fn check_signer(app: &App, f: &CheckpointFile) -> Result<String, String> {
    let (anchors, mut intermediates) = repository_certs(app);
    if anchors.is_empty() {
        return Err(format!(
            "no root certificate in the repository directory {}",
            app.repo_dir().display()
        ));
    }
    intermediates.extend(f.signed.certificates.iter().cloned());
    let at = f.signed.signing_time.unwrap_or(f.record.signed_at);
    let path = kmn_verify::verify(
        &f.signed.signer_cert,
        &anchors,
        &intermediates,
        &[],
        &kmn_verify::VerifyOptions::new(at),
    )
    .map_err(|e| format!("its signer's certificate does not chain to the root: {e}"))?;
    let c = parse::cert(&f.signed.signer_cert).map_err(|e| e.to_string())?;
    let eku_ok = c
        .tbs
        .ext(&kmn_pki::oid::EXT_EXT_KEY_USAGE)
        .is_some_and(|e| {
            kmn_pki::derr::read_one(e.value, kmn_pki::derw::tag::SEQUENCE)
                .and_then(|s| kmn_pki::derr::children(s.content))
                .map(|v| {
                    v.iter()
                        .any(|o| o.content == kmn_pki::oid::KP_DOCUMENT_SIGNING.as_bytes())
                })
                .unwrap_or(false)
        });
    if !eku_ok {
        return Err(
            "its signer's certificate is not an audit signer's (no id-kp-documentSigning)".into(),
        );
    }
    Ok(path.subjects.first().cloned().unwrap_or_default())
}

/// `kmn audit verify`: the chain against itself, the access-log seals, and the chain
/// against the newest checkpoint file.
pub async fn verify(app: &App) -> Result<VerifyReport, AppError> {
    let mut rep = VerifyReport::default();
    let chain = app.store.verify_audit().await?;
    match &chain.problem {
        Some(p) => rep.problems.push(p.clone()),
        None => rep.checked.push(format!(
            "audit log intact: {} events, head {}",
            chain.events, chain.head
        )),
    }
    let seals = app.store.verify_access_seals().await?;
    match &seals.problem {
        Some(p) => rep.problems.push(p.clone()),
        None => rep.checked.push(format!(
            "access log: {} reads of personal data sealed by {} seals; {} not sealed yet",
            seals.sealed_rows, seals.seals, seals.unsealed_rows
        )),
    }

    let dir = checkpoint_dir(app);
    let files = checkpoint_files(&dir)?;
    let mut tx = app.store.read().await?;
    let db_last = tx.last_checkpoint().await;
    tx.rollback().await?;
    let db_last = db_last?;
    let Some((latest_n, latest_path)) = files.last().cloned() else {
        match db_last {
            Some(d) => rep.problems.push(format!(
                "the database records checkpoint #{} but no checkpoint file is in {}: the chain cannot be checked against a signature (copy the checkpoint files there, or set audit.checkpoint_dir)",
                d.number,
                dir.display()
            )),
            None => rep.warnings.push(format!(
                "no signed checkpoint in {}: the chain was checked only against itself, which anyone who can write the database can rewrite — run `kmn audit checkpoint`",
                dir.display()
            )),
        }
        return Ok(rep);
    };
    let bytes = read_file(&latest_path)?;
    let f = match read_checkpoint(&bytes) {
        Ok(f) => f,
        Err(e) => {
            rep.problems.push(format!(
                "the newest checkpoint file {} does not verify: {e}",
                latest_path.display()
            ));
            return Ok(rep);
        }
    };
    let signer = match check_signer(app, &f) {
        Ok(s) => s,
        Err(e) => {
            rep.problems.push(format!(
                "the newest checkpoint file {}: {e}",
                latest_path.display()
            ));
            return Ok(rep);
        }
    };
    if f.record.number != latest_n {
        rep.problems.push(format!(
            "checkpoint file {} holds checkpoint #{}",
            latest_path.display(),
            f.record.number
        ));
    }
    // The files link up: each names its predecessor's SHA-256.
    let mut prev: Option<(u64, [u8; 32])> = None;
    for (n, p) in &files {
        let Ok(b) = std::fs::read(p) else { continue };
        let Ok(sd) = cms::verify(&b) else {
            rep.problems
                .push(format!("checkpoint file {} does not verify", p.display()));
            prev = None;
            continue;
        };
        let Ok(r) = AuditCheckpoint::from_der(&sd.content) else {
            continue;
        };
        match prev {
            Some((pn, ph)) if pn + 1 == *n && r.previous != ph => rep.problems.push(format!(
                "checkpoint file {} does not follow checkpoint #{pn}: a checkpoint file was replaced",
                p.display()
            )),
            Some((pn, _)) if pn + 1 != *n => rep.warnings.push(format!(
                "checkpoint files #{} to #{} are not in {}",
                pn + 1,
                n - 1,
                dir.display()
            )),
            _ => {}
        }
        prev = Some((*n, sha2::Sha256::digest(&b).into()));
    }
    // The database's copy.
    if let Some(d) = &db_last
        && d.number as u64 > latest_n
    {
        rep.warnings.push(format!(
            "the database records checkpoint #{}, newer than the newest file (#{latest_n}) in {}",
            d.number,
            dir.display()
        ));
    }

    // The chain against the signed checkpoint.
    let cp = &f.record;
    let when = kmn_domain::time_fmt::rfc3339(cp.signed_at);
    let signed_hash = hex::encode(cp.head_hash);
    let seq = cp.event_seq as i64;
    let mut tx = app.store.read().await?;
    let stored = if seq > 0 {
        tx.audit_event(seq).await
    } else {
        Ok(None)
    };
    let head = tx.audit_head().await;
    tx.rollback().await?;
    let (stored, (head_seq, _)) = (stored?, head?);
    if seq > 0 && stored.is_none() {
        rep.problems.push(format!(
            "the audit chain was REWOUND: checkpoint #{} (signed {when} by {signer}) covers events up to {seq} with head hash {signed_hash}, but the database's chain ends at event {} (head row: {head_seq}): events after it were deleted and the head moved back",
            cp.number, chain.events.min(seq - 1)
        ));
    } else if let Some(e) = &stored
        && (e.hash != signed_hash || e.recomputed_hash() != signed_hash)
    {
        rep.problems.push(format!(
            "the audit chain was REWRITTEN: checkpoint #{} (signed {when} by {signer}) signed event {seq} with hash {signed_hash}, but the database's event {seq} has hash {}: the events up to it were changed and the hashes recomputed",
            cp.number, e.hash
        ));
    } else if chain.problem.is_none() {
        rep.checked.push(format!(
            "checkpoint #{} ({}, signed {when} by {signer}): the chain contains its event {seq} with the signed hash and extends it to event {head_seq}",
            cp.number,
            latest_path.display()
        ));
    }
    Ok(rep)
}

/// The audit signer `kmn audit key` (or `kmn serve`) made.
#[derive(Clone, Debug)]
pub struct KeyMade {
    /// Its name (`kmn-audit-g<N>-<k>`).
    pub name: String,
    /// Its certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    /// Where its key is.
    pub key_ref: String,
    /// notAfter.
    pub not_after: OffsetDateTime,
}

/// The template of an audit signer's certificate under the issuing CA `issuer_name`.
pub(crate) fn signer_template(
    app: &App,
    issuer_name: &str,
    issuer_not_after: OffsetDateTime,
    generation: &str,
    spki_der: &[u8],
    now: OffsetDateTime,
) -> Result<(CertTemplate, Expectations), AppError> {
    let t = CertTemplate {
        profile: ProfileKind::AuditSigner,
        serial: ca::new_serial(),
        subject: ca::ca_subject(
            app,
            &format!("Kumamoto Medical Network Audit Signer {generation}"),
        )?,
        spki_der: spki_der.to_vec(),
        not_before: now,
        not_after: (now + Duration::days(AUDIT_SIGNER_DAYS)).min(issuer_not_after),
        policies: vec![],
        urls: Urls {
            crl: Some(repo::url(app, &repo::crl_file(issuer_name))),
            ocsp: None,
            ca_issuers: Some(repo::url(app, &repo::cert_file(issuer_name))),
            cps: None,
        },
        alt_names: vec![],
        hc_role: None,
    };
    let expect = Expectations {
        policies: vec![],
        validity: None,
        require_urls: true,
    };
    Ok((t, expect))
}

/// Records an audit signer's certificate (made by [`signer_template`]) as the active one.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_signer(
    tx: &mut Tx,
    name: &str,
    issuer_name: &str,
    t: &CertTemplate,
    der: &[u8],
    key_ref: &str,
    algorithm: &str,
    now: i64,
) -> Result<(), AppError> {
    crate::ca::record_delegated(
        tx,
        CaKind::AuditSigner,
        name,
        issuer_name,
        t,
        der,
        key_ref,
        algorithm,
        now,
    )
    .await
}

/// Makes a new audit signer under the active issuing CA when there is none, or the
/// active one expires within [`AUDIT_SIGNER_RENEW_DAYS`] or was not issued by the
/// active issuing CA (`kmn serve` at start). None when the active one is fine.
pub async fn ensure_key(app: &App, operator: &str) -> Result<Option<KeyMade>, AppError> {
    let mut tx = app.store.read().await?;
    let cur = tx.active_ca(CaKind::AuditSigner).await;
    let iss = tx.active_ca(CaKind::Issuing).await;
    tx.rollback().await?;
    let (cur, iss) = (cur?, iss?);
    let renew_at = app.now() + AUDIT_SIGNER_RENEW_DAYS * 86400;
    match (cur, iss) {
        (Some(c), Some(i))
            if c.not_after > renew_at && c.issuer_name.as_deref() == Some(&i.name) =>
        {
            Ok(None)
        }
        _ => Ok(Some(ca::new_audit_signer(app, operator).await?)),
    }
}

/// `kmn audit key`: the CA administrator makes a new audit signer under the active
/// issuing CA (key where that CA's key is), which becomes the active one.
pub async fn new_key(app: &App, who: &crate::rights::CaAdmin) -> Result<KeyMade, AppError> {
    ca::new_audit_signer(app, who.name()).await
}

/// The checkpoint job of `kmn serve`: every second, seals the access log when
/// `audit.seal_interval_seconds` passed, and signs a checkpoint when the chain moved
/// since the last one and a CRL was published since (so after every revocation), or
/// `audit.checkpoint_interval_minutes` passed.
pub async fn checkpoint_loop(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut last_seal = app.now();
    let mut signer: Option<LoadedCa> = None;
    loop {
        if app.now() - last_seal >= app.cfg.audit.seal_interval_seconds {
            last_seal = app.now();
            if let Err(e) = seal_access_log(&app, "system:audit").await {
                tracing::error!(error = %e, "sealing the access log failed; retrying");
            }
        }
        match due(&app).await {
            Ok(true) => {
                // A new audit signer (`kmn ca new-issuing`, `kmn audit key`) takes over.
                let active = active_signer_name(&app).await;
                if signer.as_ref().map(|s| Some(&s.record.name)) != Some(active.as_ref()) {
                    signer = None;
                }
                if signer.is_none() {
                    match load_signer(&app).await {
                        Ok(s) => signer = s,
                        Err(e) => tracing::error!(error = %e, "audit signer unavailable"),
                    }
                }
                match &signer {
                    Some(s) => match checkpoint_with(&app, &s.record, s.signer.as_ref()).await {
                        Ok(c) => tracing::info!(
                            number = c.number,
                            event = c.event_seq,
                            "audit checkpoint signed"
                        ),
                        Err(AppError::Conflict(m)) => tracing::info!("{m}"),
                        Err(e) => {
                            tracing::error!(error = %e, "audit checkpoint failed; retrying")
                        }
                    },
                    None => tracing::error!("{}", no_signer()),
                }
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "audit checkpoint check failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The active audit signer's name (None when there is none or the database does not answer).
async fn active_signer_name(app: &App) -> Option<String> {
    let mut tx = app.store.read().await.ok()?;
    let r = tx.active_ca(CaKind::AuditSigner).await.ok().flatten();
    let _ = tx.rollback().await;
    r.map(|c| c.name)
}

/// Whether a checkpoint is due (see [`checkpoint_loop`]).
async fn due(app: &App) -> Result<bool, AppError> {
    let mut tx = app.store.read().await?;
    let r = async {
        let (head, _) = tx.audit_head().await?;
        let last = tx.last_checkpoint().await?;
        let last_crl = tx.last_event_seq_of("crl.publish").await?;
        Ok::<_, AppError>(match last {
            None => head > 0,
            Some(c) => {
                head > c.event_seq
                    && (last_crl > c.event_seq
                        || app.now() - c.signed_at
                            >= app.cfg.audit.checkpoint_interval_minutes * 60)
            }
        })
    }
    .await;
    tx.rollback().await?;
    r
}
