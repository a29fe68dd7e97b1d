//! Root key backup and restore (DESIGN §6): `kmn ca backup` and `kmn ca restore`.
//!
//! The root CA's private key (its PKCS#8, decrypted with the data dir's passphrase) is
//! wrapped under a fresh random AES-256 key-encryption key (KEK) with AES Key Wrap with
//! Padding (RFC 5649, NIST SP 800-38F KWP; `openssl enc -id-aes256-wrap-pad` unwraps it
//! too). The KEK is split 3-of-5 with Shamir's secret sharing over GF(2⁸) (`blahaj`:
//! polynomial 0x11d, a share is `x ‖ f(x)` byte by byte, the secret is f(0)): fewer than
//! three shares say nothing about it. Each custodian gets a share file and a
//! printed sheet; the wrapped key file may be kept with the other offline media.
//!
//! Every share and the wrapped key carry the backup id, so shares of another backup are
//! refused by name, not by a failed unwrap. Each share line has a 2-hex-digit check and
//! the whole share a 32-bit checksum, so a sheet typed back from paper is checked line
//! by line. After splitting, every 3-of-5 combination is recovered in memory and
//! unwrapped before anything is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use kmn_pki::keys::{Signer, SoftwareKey, decrypt_pkcs8_pem, encrypt_pkcs8_pem};
use kmn_store::{CaKind, CaRecord, NewAuditEvent};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::{App, AppError, secrets};

/// Shares needed to restore.
pub const THRESHOLD: u8 = 3;
/// Shares made (one per custodian).
pub const SHARES: u8 = 5;
/// Bytes of the key-encryption key (AES-256).
const KEK_LEN: usize = 32;
/// Bytes of a share per printed line.
const LINE_BYTES: usize = 12;

const WRAPPED_MAGIC: &str = "kmn-root-key-backup";
const SHARE_MAGIC: &str = "kmn-root-key-share";
const VERSION: &str = "v1";
const WRAP_ALG: &str = "aes256-kwp";

/// The wrapped root key and what it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    /// Random id shared by the wrapped key and its shares (hex).
    pub backup_id: String,
    /// The root CA's name.
    pub root_name: String,
    /// SHA-256 fingerprint of the root certificate (hex).
    pub root_sha256: String,
    /// When the backup was made.
    pub created: OffsetDateTime,
    /// Shares needed.
    pub threshold: u8,
    /// Shares made.
    pub shares: u8,
    /// The root PKCS#8 wrapped under the KEK (RFC 5649).
    pub wrapped: Vec<u8>,
}

/// One custodian's share and what it belongs to (the content of a share file and sheet).
#[derive(Clone, PartialEq, Eq)]
pub struct Share {
    /// The backup id.
    pub backup_id: String,
    /// The root CA's name.
    pub root_name: String,
    /// SHA-256 fingerprint of the root certificate.
    pub root_sha256: String,
    /// When the backup was made.
    pub created: OffsetDateTime,
    /// Shares needed.
    pub threshold: u8,
    /// Shares made.
    pub shares: u8,
    /// The custodian (1..=shares); also the share's x coordinate.
    pub custodian: u8,
    /// The share (x ‖ y), secret.
    pub bytes: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share")
            .field("backup_id", &self.backup_id)
            .field("custodian", &self.custodian)
            .field("bytes", &"<redacted>")
            .finish()
    }
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn group_hex(bytes: &[u8]) -> String {
    bytes
        .chunks(2)
        .map(hex::encode)
        .collect::<Vec<_>>()
        .join(" ")
}

fn line_check(index: usize, bytes: &[u8]) -> String {
    let i = u8::try_from(index).unwrap_or(u8::MAX);
    hex::encode(&sha256(&[b"kmn-root-key-share line\0", &[i], bytes])[..1])
}

impl Share {
    /// The 32-bit checksum of the whole share (hex), bound to the backup id.
    pub fn checksum(&self) -> String {
        hex::encode(
            &sha256(&[
                b"kmn-root-key-share v1\0",
                self.backup_id.as_bytes(),
                &[0],
                &self.bytes,
            ])[..4],
        )
    }

    /// The share as printed: `share: 02a1 b2c3 … / 7f` (12 bytes a line, a check per line).
    pub fn share_lines(&self) -> Vec<String> {
        self.bytes
            .chunks(LINE_BYTES)
            .enumerate()
            .map(|(i, c)| format!("share: {} / {}", group_hex(c), line_check(i + 1, c)))
            .collect()
    }

    /// The lines a custodian keeps (and types back from the sheet): magic, ids, share,
    /// checksum.
    pub fn record_lines(&self) -> Vec<String> {
        let mut v = vec![
            format!("{SHARE_MAGIC}: {VERSION}"),
            format!("backup-id: {}", self.backup_id),
            format!("root-name: {}", self.root_name),
            format!("root-sha256: {}", self.root_sha256),
            format!("created: {}", kmn_domain::time_fmt::rfc3339(self.created)),
            format!("threshold: {}", self.threshold),
            format!("shares: {}", self.shares),
            format!("custodian: {}", self.custodian),
        ];
        v.extend(self.share_lines());
        v.push(format!("checksum: {}", self.checksum()));
        v
    }

    /// The share file.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "# 認証局ルート鍵 分散バックアップ — 分散鍵（{}人中{}人の分散鍵）保管者 {}\n\
             # kmn-pki root key backup share {} of {} (any {} restore the root key; DESIGN §6).\n\
             # Keep it apart from the other shares. Restore: kmn ca restore --wrapped FILE --share F1 --share F2 --share F3\n",
            self.shares,
            self.threshold,
            self.custodian,
            self.custodian,
            self.shares,
            self.threshold
        );
        for l in self.record_lines() {
            s.push_str(&l);
            s.push('\n');
        }
        s
    }

    /// Parses a share file (or the lines typed back from the printed sheet). `what`
    /// names the file in messages.
    pub fn parse(text: &str, what: &str) -> Result<Share, AppError> {
        let bad = |m: String| AppError::BadInput(format!("分散鍵ファイル {what}: {m}"));
        let fields = fields(text, SHARE_MAGIC).map_err(&bad)?;
        let mut bytes = Zeroizing::new(Vec::new());
        for (i, line) in fields.share_lines.iter().enumerate() {
            let (hexpart, check) = match line.rsplit_once('/') {
                Some((h, c)) => (h, Some(c.trim())),
                None => (line.as_str(), None),
            };
            let compact: String = hexpart.chars().filter(|c| !c.is_whitespace()).collect();
            let chunk = Zeroizing::new(hex::decode(&compact).map_err(|_| {
                bad(format!(
                    "{}行目の share に16進数（0–9、a–f）以外の文字があります。入力の誤りがないか確認してください",
                    i + 1
                ))
            })?);
            if let Some(c) = check
                && !c.eq_ignore_ascii_case(&line_check(i + 1, &chunk))
            {
                return Err(bad(format!(
                    "share の{}行目のチェック文字（/ の後の2文字）が一致しません。この行に読み取り・入力の誤りがあります",
                    i + 1
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let custodian: u8 = fields.num("custodian").map_err(&bad)?;
        let share = Share {
            backup_id: fields.get("backup-id").map_err(&bad)?.to_string(),
            root_name: fields.get("root-name").unwrap_or_default().to_string(),
            root_sha256: fields.get("root-sha256").unwrap_or_default().to_string(),
            created: fields.created(),
            threshold: fields.num("threshold").map_err(&bad)?,
            shares: fields.num("shares").map_err(&bad)?,
            custodian,
            bytes,
        };
        if share.bytes.len() != 1 + KEK_LEN || share.bytes[0] != custodian || custodian == 0 {
            return Err(bad(format!(
                "share の長さまたは保管者番号が正しくありません（保管者 {custodian}）。入力の誤りがないか確認してください"
            )));
        }
        let sum = fields.get("checksum").map_err(&bad)?;
        if !sum.eq_ignore_ascii_case(&share.checksum()) {
            return Err(bad(
                "checksum が一致しません。分散鍵の内容かバックアップIDに読み取り・入力の誤りがあります".into(),
            ));
        }
        Ok(share)
    }
}

impl WrappedKey {
    /// The wrapped key file.
    pub fn to_text(&self) -> String {
        use base64::Engine;
        format!(
            "# 認証局ルート鍵 分散バックアップ — ラップ済みルート鍵（鍵暗号化鍵で暗号化済み。復元には{}人中{}人の分散鍵が必要）\n\
             # kmn-pki root key backup: the root's PKCS#8 wrapped with AES-256 key wrap with padding (RFC 5649)\n\
             # under a key-encryption key split {}-of-{}. Restore: kmn ca restore --wrapped THIS --share F1 --share F2 --share F3\n\
             {WRAPPED_MAGIC}: {VERSION}\n\
             backup-id: {}\nroot-name: {}\nroot-sha256: {}\ncreated: {}\nthreshold: {}\nshares: {}\nwrap: {WRAP_ALG}\nwrapped-key: {}\n",
            self.shares,
            self.threshold,
            self.threshold,
            self.shares,
            self.backup_id,
            self.root_name,
            self.root_sha256,
            kmn_domain::time_fmt::rfc3339(self.created),
            self.threshold,
            self.shares,
            base64::engine::general_purpose::STANDARD.encode(&self.wrapped)
        )
    }

    /// Parses a wrapped key file.
    pub fn parse(text: &str, what: &str) -> Result<WrappedKey, AppError> {
        use base64::Engine;
        let bad = |m: String| AppError::BadInput(format!("ラップ済みルート鍵ファイル {what}: {m}"));
        let f = fields(text, WRAPPED_MAGIC).map_err(&bad)?;
        let wrap = f.get("wrap").map_err(&bad)?;
        if wrap != WRAP_ALG {
            return Err(bad(format!("未対応の方式 {wrap} です（{WRAP_ALG} のみ）")));
        }
        let wrapped = base64::engine::general_purpose::STANDARD
            .decode(f.get("wrapped-key").map_err(&bad)?)
            .map_err(|_| bad("wrapped-key が base64 ではありません".into()))?;
        Ok(WrappedKey {
            backup_id: f.get("backup-id").map_err(&bad)?.to_string(),
            root_name: f.get("root-name").map_err(&bad)?.to_string(),
            root_sha256: f.get("root-sha256").map_err(&bad)?.to_string(),
            created: f.created(),
            threshold: f.num("threshold").map_err(&bad)?,
            shares: f.num("shares").map_err(&bad)?,
            wrapped,
        })
    }
}

struct Fields {
    map: BTreeMap<String, String>,
    share_lines: Vec<String>,
}

impl Fields {
    fn get(&self, k: &str) -> Result<&str, String> {
        self.map
            .get(k)
            .map(String::as_str)
            .ok_or_else(|| format!("{k}: の行がありません"))
    }

    fn num(&self, k: &str) -> Result<u8, String> {
        self.get(k)?
            .parse()
            .map_err(|_| format!("{k}: の値が数ではありません"))
    }

    fn created(&self) -> OffsetDateTime {
        self.map
            .get("created")
            .and_then(|c| {
                OffsetDateTime::parse(c, &time::format_description::well_known::Rfc3339).ok()
            })
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// `key: value` lines; `#` comments and blank lines skipped; `share:` may repeat.
fn fields(text: &str, magic: &str) -> Result<Fields, String> {
    let mut map = BTreeMap::new();
    let mut share_lines = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
        if k == "share" {
            share_lines.push(v);
        } else {
            map.insert(k, v);
        }
    }
    match map.get(magic).map(String::as_str) {
        Some(VERSION) => Ok(Fields { map, share_lines }),
        Some(v) => Err(format!("未対応の形式 {v} です")),
        None => Err(format!(
            "形式が違います（{magic}: の行がありません）。ファイルを取り違えていないか確認してください"
        )),
    }
}

fn wrap(kek: &[u8], pkcs8: &[u8]) -> Result<Vec<u8>, AppError> {
    let k = AesKek::new(&AES_256, kek)
        .map_err(|_| AppError::Internal("AES-256 KEK rejected".into()))?;
    let mut out = vec![0u8; pkcs8.len() + 16];
    let n = k
        .wrap_with_padding(pkcs8, &mut out)
        .map_err(|_| AppError::Internal("AES key wrap failed".into()))?
        .len();
    out.truncate(n);
    Ok(out)
}

fn unwrap(kek: &[u8], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let k = AesKek::new(&AES_256, kek).ok()?;
    let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
    let n = k.unwrap_with_padding(wrapped, &mut out).ok()?.len();
    out.truncate(n);
    Some(out)
}

fn recover(threshold: u8, shares: &[&Share]) -> Option<Zeroizing<Vec<u8>>> {
    let parsed: Vec<blahaj::Share> = shares
        .iter()
        .map(|s| blahaj::Share::try_from(s.bytes.as_slice()))
        .collect::<Result<_, _>>()
        .ok()?;
    blahaj::Sharks(threshold)
        .recover(parsed.iter())
        .ok()
        .map(Zeroizing::new)
}

async fn active_root(app: &App) -> Result<CaRecord, AppError> {
    let mut tx = app.store.read().await?;
    let rec = tx.active_ca(CaKind::Root).await?;
    tx.rollback().await?;
    rec.ok_or_else(|| {
        AppError::CaState("no CA in this data dir: run `kmn ca init` (or `kmn up`) first".into())
    })
}

fn root_key_path(app: &App, root: &CaRecord) -> Result<PathBuf, AppError> {
    let rel = root.key_ref.strip_prefix("file:").ok_or_else(|| {
        AppError::CaState(format!(
            "ルート認証局 {} の鍵はファイルではありません（{}）。このコマンドはソフトウェア鍵のルートだけを扱います",
            root.name, root.key_ref
        ))
    })?;
    Ok(app.data_dir.join(rel))
}

/// What a backup wrote.
#[derive(Debug)]
pub struct BackupOutcome {
    /// The backup id.
    pub backup_id: String,
    /// The root's name and fingerprint.
    pub root: (String, String),
    /// The wrapped key file.
    pub wrapped_file: PathBuf,
    /// Per custodian: (number, share file, sheet PDF if rendered).
    pub custodians: Vec<(u8, PathBuf, Option<PathBuf>)>,
}

/// Renders a custodian's printed sheet (the CLI passes kmn-letters' A4 PDF).
pub type SheetRenderer<'a> = &'a dyn Fn(&Share) -> Result<Vec<u8>, AppError>;

/// `kmn ca backup --out DIR`: wraps the root key under a fresh KEK, splits the KEK
/// 3-of-5, checks every 3-of-5 combination, and writes the wrapped key, one share file
/// per custodian and (with `render`) one printable sheet per custodian, all mode 0600 in
/// a 0700 directory; existing files are never overwritten. Audited as `ca.backup`.
pub async fn backup(
    app: &App,
    out: &Path,
    admin: &crate::rights::CaAdmin,
    render: Option<SheetRenderer<'_>>,
) -> Result<BackupOutcome, AppError> {
    let operator = admin.name();
    let root = active_root(app).await?;
    let key_path = root_key_path(app, &root)?;
    let pem = std::fs::read_to_string(&key_path).map_err(|e| {
        AppError::Io(format!(
            "ルート鍵のファイル {} を読めません（{e}）。オフライン保管から戻してから実行してください",
            key_path.display()
        ))
    })?;
    let pass = app.cfg.ca_passphrase(&app.data_dir)?;
    let pkcs8 = decrypt_pkcs8_pem(&pem, pass.as_bytes()).map_err(|e| match e {
        kmn_pki::PkiError::WrongPassphrase => AppError::Passphrase(format!(
            "the CA passphrase is wrong: the key of {} could not be decrypted; nothing was written",
            root.name
        )),
        other => other.into(),
    })?;
    let key = SoftwareKey::from_pkcs8(&pkcs8)?;
    let cert_spki = kmn_pki::parse::cert(&root.cert_der)?.tbs.spki.to_vec();
    if key.spki_der() != cert_spki.as_slice() {
        return Err(AppError::Config(format!(
            "the key file of {} does not match its certificate",
            root.name
        )));
    }
    let root_fp = kmn_pki::cert::fingerprint_sha256(&root.cert_der);
    let created = app.clock.now();

    let mut id = [0u8; 16];
    aws_lc_rs::rand::fill(&mut id).map_err(|_| AppError::Internal("no randomness".into()))?;
    let backup_id = hex::encode(id);
    let mut kek = Zeroizing::new([0u8; KEK_LEN]);
    aws_lc_rs::rand::fill(kek.as_mut_slice())
        .map_err(|_| AppError::Internal("no randomness".into()))?;
    let wrapped = WrappedKey {
        backup_id: backup_id.clone(),
        root_name: root.name.clone(),
        root_sha256: root_fp.clone(),
        created,
        threshold: THRESHOLD,
        shares: SHARES,
        wrapped: wrap(kek.as_slice(), &pkcs8)?,
    };
    let shares: Vec<Share> = blahaj::Sharks(THRESHOLD)
        .dealer(kek.as_slice())
        .take(usize::from(SHARES))
        .enumerate()
        .map(|(i, s)| Share {
            backup_id: backup_id.clone(),
            root_name: root.name.clone(),
            root_sha256: root_fp.clone(),
            created,
            threshold: THRESHOLD,
            shares: SHARES,
            custodian: u8::try_from(i + 1).unwrap_or(u8::MAX),
            bytes: Zeroizing::new(Vec::from(&s)),
        })
        .collect();
    // Every 3 of the 5 must give the key back, through the same parser a restore uses.
    let reparsed: Vec<Share> = shares
        .iter()
        .map(|s| Share::parse(&s.to_text(), "(self-check)"))
        .collect::<Result<_, _>>()?;
    for a in 0..reparsed.len() {
        for b in a + 1..reparsed.len() {
            for c in b + 1..reparsed.len() {
                let kek2 = recover(THRESHOLD, &[&reparsed[a], &reparsed[b], &reparsed[c]]);
                let back = kek2.as_deref().and_then(|k| unwrap(k, &wrapped.wrapped));
                if back.as_deref().map(Vec::as_slice) != Some(pkcs8.as_slice()) {
                    return Err(AppError::Internal(
                        "the backup did not restore from every 3 of its 5 shares; nothing was written".into(),
                    ));
                }
            }
        }
    }
    drop(kek);

    // Files: nothing is overwritten; on any failure what was written is removed.
    secrets::ensure_dir(out, 0o700)?;
    let tag = &backup_id[..8];
    let wrapped_file = out.join(format!("{}-{tag}.wrapped.txt", root.name));
    let mut planned: Vec<(PathBuf, Zeroizing<Vec<u8>>)> = vec![(
        wrapped_file.clone(),
        Zeroizing::new(wrapped.to_text().into_bytes()),
    )];
    let mut custodians = Vec::new();
    for s in &shares {
        let base = format!("{}-{tag}-share-{}-of-{}", root.name, s.custodian, s.shares);
        let txt = out.join(format!("{base}.txt"));
        planned.push((txt.clone(), Zeroizing::new(s.to_text().into_bytes())));
        let pdf = match render {
            Some(r) => {
                let p = out.join(format!("{base}.pdf"));
                planned.push((p.clone(), Zeroizing::new(r(s)?)));
                Some(p)
            }
            None => None,
        };
        custodians.push((s.custodian, txt, pdf));
    }
    if let Some((p, _)) = planned.iter().find(|(p, _)| p.exists()) {
        return Err(AppError::CaState(format!(
            "{} は既にあります。バックアップのファイルは上書きしません。空のディレクトリを指定してください",
            p.display()
        )));
    }
    let mut written = Vec::new();
    let r = async {
        for (p, bytes) in &planned {
            secrets::write_atomic(p, bytes, 0o600)?;
            written.push(p.clone());
        }
        let mut tx = app.store.begin().await?;
        let summary = format!(
            "root key backup {backup_id} of {} (SHA-256 {root_fp}): PKCS#8 wrapped with AES-256 KWP (RFC 5649), key-encryption key split {THRESHOLD}-of-{SHARES} (Shamir), every {THRESHOLD}-of-{SHARES} combination checked; written to {}",
            root.name,
            out.display()
        );
        let ev = tx
            .append_audit(&NewAuditEvent {
                at: created.unix_timestamp(),
                actor: operator,
                action: "ca.backup",
                object: &format!("ca:{}", root.name),
                facility: None,
                summary: &summary,
            })
            .await;
        crate::finish(tx, ev.map_err(AppError::from)).await
    }
    .await;
    if let Err(e) = r {
        for p in &written {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    Ok(BackupOutcome {
        backup_id,
        root: (root.name, root_fp),
        wrapped_file,
        custodians,
    })
}

/// What a restore did.
#[derive(Debug)]
pub struct RestoreOutcome {
    /// The root's name and fingerprint.
    pub root: (String, String),
    /// The backup id.
    pub backup_id: String,
    /// The custodians whose shares were used.
    pub custodians: Vec<u8>,
    /// The key file written (None with `verify_only`).
    pub key_file: Option<PathBuf>,
}

/// `kmn ca restore`: rebuilds the root key from the wrapped key and at least three
/// shares of the same backup, checks it against the root certificate, and writes it as
/// the root's encrypted key file with `passphrase` (not over an existing file). With
/// `verify_only` nothing is written (the restore test of the ceremony). Audited as
/// `ca.restore`.
pub async fn restore(
    app: &App,
    wrapped_file: &Path,
    share_files: &[PathBuf],
    passphrase: &str,
    admin: &crate::rights::CaAdmin,
    verify_only: bool,
) -> Result<RestoreOutcome, AppError> {
    let operator = admin.name();
    let read = |p: &Path, what: &str| {
        std::fs::read_to_string(p)
            .map_err(|e| AppError::BadInput(format!("{what} {} を読めません（{e}）", p.display())))
    };
    let w = WrappedKey::parse(
        &read(wrapped_file, "ラップ済みルート鍵ファイル")?,
        &wrapped_file.display().to_string(),
    )?;
    let mut shares: Vec<Share> = Vec::new();
    for f in share_files {
        let s = Share::parse(&read(f, "分散鍵ファイル")?, &f.display().to_string())?;
        if s.backup_id != w.backup_id {
            return Err(AppError::BadInput(format!(
                "分散鍵ファイル {} は別のバックアップ（バックアップID {}）の分散鍵です。ラップ済みルート鍵（バックアップID {}）と同じときに作った分散鍵を使ってください",
                f.display(),
                s.backup_id,
                w.backup_id
            )));
        }
        if shares.iter().any(|o| o.custodian == s.custodian) {
            return Err(AppError::BadInput(format!(
                "保管者 {} の分散鍵が2回指定されています（{}）。異なる保管者の分散鍵を指定してください",
                s.custodian,
                f.display()
            )));
        }
        shares.push(s);
    }
    let mut custodians: Vec<u8> = shares.iter().map(|s| s.custodian).collect();
    custodians.sort_unstable();
    if shares.len() < usize::from(w.threshold) {
        let have = if custodians.is_empty() {
            "1人分も指定されていません".to_string()
        } else {
            format!(
                "{}人分（保管者 {}）しか指定されていません",
                custodians.len(),
                custodians
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join("、")
            )
        };
        return Err(AppError::BadInput(format!(
            "分散鍵が足りません。ルート鍵の復元には{}人中{}人の分散鍵が必要ですが、{have}。--share で{}人以上の分散鍵ファイルを指定してください",
            w.shares, w.threshold, w.threshold
        )));
    }
    let refs: Vec<&Share> = shares.iter().collect();
    let key = recover(w.threshold, &refs)
        .and_then(|kek| unwrap(&kek, &w.wrapped))
        .ok_or_else(|| {
            AppError::BadInput(
                "分散鍵からルート鍵を復元できませんでした。分散鍵の内容に誤りがあるか、ラップ済みルート鍵ファイルが壊れています".into(),
            )
        })?;
    let soft = SoftwareKey::from_pkcs8(&key)
        .map_err(|_| AppError::BadInput("復元した内容が秘密鍵の形式になっていません".into()))?;

    let mut tx = app.store.read().await?;
    let cas = tx.list_cas().await;
    tx.rollback().await?;
    let root = cas?
        .into_iter()
        .find(|r| r.kind == CaKind::Root && r.name == w.root_name)
        .ok_or_else(|| {
        AppError::CaState(format!(
            "このデータディレクトリにはルート認証局 {} がありません。バックアップを取った認証局のデータディレクトリで実行してください",
            w.root_name
        ))
    })?;
    let root_fp = kmn_pki::cert::fingerprint_sha256(&root.cert_der);
    let cert_spki = kmn_pki::parse::cert(&root.cert_der)?.tbs.spki.to_vec();
    if soft.spki_der() != cert_spki.as_slice() || !root_fp.eq_ignore_ascii_case(&w.root_sha256) {
        return Err(AppError::BadInput(format!(
            "復元した鍵がルート認証局 {} の証明書（SHA-256 {root_fp}）の鍵と一致しません。別の認証局のバックアップではないか確認してください",
            root.name
        )));
    }
    let key_path = root_key_path(app, &root)?;
    let key_file = if verify_only {
        None
    } else {
        if key_path.exists() {
            return Err(AppError::CaState(format!(
                "ルート鍵のファイル {} が既にあります。上書きはしません。退避してから復元するか、確認だけなら --verify-only を付けてください",
                key_path.display()
            )));
        }
        let pem = encrypt_pkcs8_pem(&key, passphrase.as_bytes())?;
        if let Some(dir) = key_path.parent() {
            secrets::ensure_dir(dir, 0o700)?;
        }
        secrets::write_atomic(&key_path, pem.as_bytes(), 0o600)?;
        Some(key_path.clone())
    };
    let who = custodians
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let summary = match &key_file {
        Some(p) => format!(
            "root key of {} (SHA-256 {root_fp}) restored from backup {} with the shares of custodians {who} and written to {}",
            root.name,
            w.backup_id,
            p.display()
        ),
        None => format!(
            "restore of backup {} verified with the shares of custodians {who}: the key matches root {} (SHA-256 {root_fp}); nothing written",
            w.backup_id, root.name
        ),
    };
    let mut tx = app.store.begin().await?;
    let r = tx
        .append_audit(&NewAuditEvent {
            at: app.now(),
            actor: operator,
            action: "ca.restore",
            object: &format!("ca:{}", root.name),
            facility: None,
            summary: &summary,
        })
        .await
        .map_err(AppError::from);
    if let Err(e) = crate::finish(tx, r).await {
        if let Some(p) = &key_file {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    Ok(RestoreOutcome {
        root: (root.name, root_fp),
        backup_id: w.backup_id,
        custodians,
        key_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_share(custodian: u8) -> Share {
        let mut bytes = vec![custodian];
        bytes.extend((0..32u8).map(|b| b.wrapping_mul(7).wrapping_add(custodian)));
        Share {
            backup_id: "00112233445566778899aabbccddeeff".into(),
            root_name: "kmn-root-g1".into(),
            root_sha256: "ab".repeat(32),
            created: OffsetDateTime::UNIX_EPOCH,
            threshold: 3,
            shares: 5,
            custodian,
            bytes: Zeroizing::new(bytes),
        }
    }

    #[test]
    fn design6_share_text_round_trips_and_checks_each_line() {
        let s = sample_share(2);
        let text = s.to_text();
        assert_eq!(Share::parse(&text, "t").unwrap(), s);
        assert_eq!(s.share_lines().len(), 3);
        assert!(!format!("{s:?}").contains(&hex::encode(&s.bytes[1..4])));
        // A typo in the second share line is caught by that line's check.
        let line = &s.share_lines()[1];
        let typo = line.replacen(&line[7..8], if &line[7..8] == "0" { "1" } else { "0" }, 1);
        let e = Share::parse(&text.replace(line, &typo), "t").unwrap_err();
        assert!(e.to_string().contains("2行目"), "{e}");
        // Typed back without the line checks: the checksum still guards the whole.
        let no_checks: String = text
            .lines()
            .map(|l| l.split(" / ").next().unwrap().to_string() + "\n")
            .collect();
        assert_eq!(Share::parse(&no_checks, "t").unwrap(), s);
        let wrong_id = text.replace("0011223344", "0011223345");
        assert!(
            Share::parse(&wrong_id, "t")
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
    }

    #[test]
    fn design6_kek_restores_from_any_three_and_not_from_two() {
        let kek = [0x42u8; 32];
        let pkcs8 = b"not really pkcs8 but bytes".to_vec();
        let wrapped = wrap(&kek, &pkcs8).unwrap();
        let shares: Vec<Share> = blahaj::Sharks(3)
            .dealer(&kek)
            .take(5)
            .enumerate()
            .map(|(i, b)| Share {
                custodian: u8::try_from(i + 1).unwrap(),
                bytes: Zeroizing::new(Vec::from(&b)),
                ..sample_share(1)
            })
            .collect();
        let k = recover(3, &[&shares[0], &shares[2], &shares[4]]).unwrap();
        assert_eq!(unwrap(&k, &wrapped).unwrap().as_slice(), pkcs8.as_slice());
        assert!(recover(3, &[&shares[0], &shares[1]]).is_none());
        // A wrong KEK never unwraps (RFC 5649 integrity check).
        assert!(unwrap(&[0x43u8; 32], &wrapped).is_none());
    }
}
