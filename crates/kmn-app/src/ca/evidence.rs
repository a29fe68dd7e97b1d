//! The evidence of a revocation (第23条3, issue 10 item 6) and the signed revocation
//! receipt.
//!
//! - [`load`]: every timestamp of one revocation — when the request arrived, through whom
//!   and which channel, when it was revoked, the first CRL listing it (its number, its
//!   SHA-256, when it was written, read back and checked: stamped by
//!   [`crate::ca::crl::publish_in_tx`]) and the first OCSP response showing it revoked
//!   (when it was signed, and when it was stored, read back and checked: stamped by
//!   [`stamp_first_ocsp`], which the OCSP signer loop calls).
//! - [`receipt`]: a CMS SignedData of eContentType id-ct-kmnRevocationReceipt over the
//!   record of docs/REVOCATION-RECEIPT.asn1 ([`kmn_pki::receipt`]), signed by the audit
//!   signer (an end-entity key certified by the issuing CA, id-kp-documentSigning, no
//!   certificatePolicies) — only once the first CRL listing the revocation was read back.
//! - [`letter`]: the Japanese letter to the facility (「電子証明書失効のお知らせ」).
//! - [`verify_receipt`]: what `kmn receipt verify` checks.
//!
//! Rights: the center and auditors for every certificate, a facility's desk for the
//! certificates of its own facility's cards; anything else is answered like an unknown
//! serial.

use kmn_pki::ocsp::{self, CertId, HashAlg, IssuerHashes};
use kmn_pki::receipt::{FirstCrl, RevocationReceipt};
use kmn_pki::{cms, oid, parse};
use kmn_store::{CardRow, CertRecord, NewAuditEvent, Tx};
use sha2::Digest;
use time::OffsetDateTime;

use crate::actor::Scope;
use crate::rights::Reader;
use crate::views::Evidence;
use crate::{App, AppError};

fn not_found(serial_hex: &str) -> AppError {
    AppError::NotFound(format!("シリアル番号 {serial_hex} の証明書はありません"))
}

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The serial as the store keeps it (lowercase hex, no leading zero octet), or the
/// not-found answer for something that is not a serial.
fn normalize(serial: &str) -> Result<String, AppError> {
    serial
        .parse::<kmn_domain::CertSerial>()
        .map(|s| s.to_hex())
        .map_err(|_| {
            AppError::BadInput(format!(
                "「{serial}」は証明書のシリアル番号（16進数）ではありません"
            ))
        })
}

/// What one read gives: the evidence, the certificate and its card.
struct Loaded {
    evidence: Evidence,
    cert: CertRecord,
    card: Option<CardRow>,
}

/// Loads a certificate visible to `scope`: an unknown serial and a certificate outside
/// the desk's facility (or on no card at all) get the same answer.
async fn load_in_tx(tx: &mut Tx, scope: &Scope, serial_hex: &str) -> Result<Loaded, AppError> {
    let cert = tx
        .certificate(serial_hex)
        .await?
        .ok_or_else(|| not_found(serial_hex))?;
    let card = tx.card_by_cert_serial(serial_hex).await?;
    let visible = match scope {
        Scope::All => true,
        Scope::Facility(f) => card.as_ref().is_some_and(|c| &c.facility_code == f),
    };
    if !visible {
        return Err(not_found(serial_hex));
    }
    let rev = cert.revocation.clone();
    let first_crl = match rev.as_ref().and_then(|r| r.first_crl_number) {
        Some(n) => tx.crl(&cert.ca_name, n).await?,
        None => None,
    };
    let evidence = Evidence {
        serial_hex: cert.serial_hex.clone(),
        ca_name: cert.ca_name.clone(),
        subject: cert.subject.clone(),
        status: cert.status,
        card_id: card.as_ref().map(|c| c.id.clone()),
        holder_id: card.as_ref().map(|c| c.holder_id.clone()),
        facility_code: card.as_ref().map(|c| c.facility_code.clone()),
        reason: rev.as_ref().map(|r| r.reason),
        grounds: rev.as_ref().and_then(|r| r.grounds.clone()),
        article: rev.as_ref().and_then(|r| r.article.clone()),
        channel: rev.as_ref().and_then(|r| r.channel.clone()),
        requested_by: rev.as_ref().and_then(|r| r.requested_by.clone()),
        comment: rev.as_ref().and_then(|r| r.comment.clone()),
        request_received_at: rev.as_ref().and_then(|r| r.request_received_at),
        revoked_at: rev.as_ref().map(|r| r.revoked_at),
        invalidity_date: rev.as_ref().and_then(|r| r.invalidity_date),
        first_crl_number: rev.as_ref().and_then(|r| r.first_crl_number),
        first_crl_this_update: first_crl.as_ref().map(|c| c.this_update),
        first_crl_published_at: rev.as_ref().and_then(|r| r.first_crl_published_at),
        first_crl_sha256: first_crl.map(|c| c.sha256),
        first_ocsp_produced_at: rev.as_ref().and_then(|r| r.first_ocsp_produced_at),
        first_ocsp_at: rev.as_ref().and_then(|r| r.first_ocsp_at),
    };
    Ok(Loaded {
        evidence,
        cert,
        card,
    })
}

async fn load_visible(app: &App, who: &Reader, serial: &str) -> Result<Loaded, AppError> {
    let serial_hex = normalize(serial)?;
    let mut tx = app.store.read().await?;
    let r = load_in_tx(&mut tx, who.scope(), &serial_hex).await;
    tx.rollback().await?;
    r
}

/// The evidence of a certificate's revocation (`kmn cert show`, the API); the read is
/// logged (G1).
pub async fn load(app: &App, who: &Reader, serial: &str) -> Result<Evidence, AppError> {
    let l = load_visible(app, who, serial).await?;
    crate::audit::log_read(
        app,
        who.actor(),
        "read",
        &format!("cert:{}/evidence", l.evidence.serial_hex),
        l.evidence.facility_code.as_deref(),
    )
    .await?;
    Ok(l.evidence)
}

/// Stamps the revocations among `serials` whose OCSP responses were just stored (第23条3):
/// each SHA-256 CertID response is read back from storage, parsed, its signature checked
/// against the OCSP signer's key `signer_spki`, its CertID compared with the certificate's
/// and its status checked to be revoked (not on hold); then the revocation records the
/// response's producedAt and the time of this check, once. Returns how many were stamped.
pub(crate) async fn stamp_first_ocsp(
    app: &App,
    signer_spki: &[u8],
    hashes: &IssuerHashes,
    serials: &[&str],
) -> Result<usize, AppError> {
    if serials.is_empty() {
        return Ok(0);
    }
    let mut tx = app.store.begin().await?;
    let r = async {
        let mut n = 0;
        for serial_hex in serials {
            let Some(stored) = tx
                .ocsp_response(serial_hex, HashAlg::Sha256.as_str())
                .await?
            else {
                continue;
            };
            if stored.status != "revoked" {
                continue;
            }
            let single = ocsp::read_back(&stored.der, signer_spki)?;
            let serial = hex::decode(serial_hex)
                .map_err(|e| AppError::Internal(format!("serial {serial_hex} is not hex: {e}")))?;
            if single.cert_id != CertId::new(HashAlg::Sha256, hashes, &serial) {
                return Err(AppError::Internal(format!(
                    "the stored OCSP response of {serial_hex} names another certificate"
                )));
            }
            let revoked = matches!(
                single.status,
                Some(ocsp::CertStatus::Revoked { reason, .. })
                    if reason != kmn_domain::RevocationReason::CertificateHold
            );
            if revoked
                && tx
                    .stamp_first_ocsp(serial_hex, single.produced_at.unix_timestamp(), app.now())
                    .await?
            {
                n += 1;
            }
        }
        Ok(n)
    }
    .await;
    crate::finish(tx, r).await
}

/// A signed revocation receipt.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// The CMS ContentInfo (DER).
    pub der: Vec<u8>,
    /// The record it signs.
    pub record: RevocationReceipt,
}

/// The revocation and its first CRL, or the Japanese refusal: not revoked, or not yet
/// on a CRL that was read back.
fn published(e: &Evidence) -> Result<(), AppError> {
    if e.status != kmn_domain::CertStatus::Revoked || e.revoked_at.is_none() {
        return Err(AppError::CaState(format!(
            "証明書 {} は失効していません。失効の証明は失効した証明書についてのみ作成できます",
            e.serial_hex
        )));
    }
    if e.first_crl_number.is_none() || e.first_crl_published_at.is_none() {
        return Err(AppError::CaState(format!(
            "まだCRLに掲載されていません。証明書 {} の失効を載せたCRLが公開され、読み戻して確認されるまで（通常は数秒以内）、失効の証明は作成できません。しばらくしてからもう一度お試しください",
            e.serial_hex
        )));
    }
    Ok(())
}

/// The receipt's record from the evidence; `issued_at` is when it is signed.
fn record_of(l: &Loaded, issued_at: OffsetDateTime) -> Result<RevocationReceipt, AppError> {
    let e = &l.evidence;
    published(e)?;
    let issuer = parse::cert(&l.cert.der)?.tbs.issuer.to_vec();
    let serial = hex::decode(&e.serial_hex)
        .map_err(|err| AppError::Internal(format!("serial {} is not hex: {err}", e.serial_hex)))?;
    let sha256: [u8; 32] = e
        .first_crl_sha256
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| {
            AppError::Internal(format!(
                "CRL #{} of {} has no SHA-256 on record",
                e.first_crl_number.unwrap_or_default(),
                e.ca_name
            ))
        })?;
    let revoked_at = e.revoked_at.unwrap_or_default();
    Ok(RevocationReceipt {
        issuer,
        serial,
        reason: e
            .reason
            .ok_or_else(|| AppError::Internal("a revocation without a reason".into()))?,
        // Revocations recorded before migration 9 have no grounds or channel.
        grounds: e.grounds.clone().unwrap_or_else(|| "unrecorded".into()),
        article: e.article.clone(),
        channel: e.channel.clone().unwrap_or_else(|| "unrecorded".into()),
        requested_by: e
            .requested_by
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unrecorded".into()),
        request_received_at: at(e.request_received_at.unwrap_or(revoked_at)),
        revoked_at: at(revoked_at),
        invalidity_date: e.invalidity_date.map(at),
        first_crl: FirstCrl {
            number: u64::try_from(e.first_crl_number.unwrap_or_default()).unwrap_or_default(),
            this_update: at(e.first_crl_this_update.unwrap_or_default()),
            published_at: at(e.first_crl_published_at.unwrap_or_default()),
            sha256,
        },
        first_ocsp_at: e.first_ocsp_at.map(at),
        issued_at,
    })
}

/// Signs the revocation receipt of `serial` with the audit signer (see the module
/// documentation); refused in Japanese before the first CRL listing it was read back.
/// The signature is recorded in the audit log.
pub async fn receipt(app: &App, who: &Reader, serial: &str) -> Result<Receipt, AppError> {
    let l = load_visible(app, who, serial).await?;
    published(&l.evidence)?;
    let signer = crate::audit::load_signer(app).await?.ok_or_else(|| {
        AppError::CaState(
            "失効の証明に署名する鍵（監査ログ署名者）がありません。認証局管理者が `kmn audit key` で作成してください".into(),
        )
    })?;
    let issuer_cert = {
        let mut tx = app.store.read().await?;
        let cas = tx.list_cas().await;
        tx.rollback().await?;
        cas?.into_iter()
            .find(|c| Some(&c.name) == signer.record.issuer_name.as_ref())
            .map(|c| c.cert_der)
    };
    let now = app.clock.now();
    let issued_at = now.replace_nanosecond(0).unwrap_or(now);
    let record = record_of(&l, issued_at)?;
    let chain: Vec<&[u8]> = issuer_cert.iter().map(Vec::as_slice).collect();
    let der = cms::sign_typed(
        &oid::CT_REVOCATION_RECEIPT,
        &record.to_der(),
        &signer.record.cert_der,
        &chain,
        signer.signer.as_ref(),
        issued_at,
    )?;
    // What was signed reads back as the same record.
    let back = cms::verify(&der)?;
    if RevocationReceipt::from_der(&back.content)? != record {
        return Err(AppError::Internal(
            "the signed receipt does not read back as its record".into(),
        ));
    }
    let mut tx = app.store.begin().await?;
    let r = tx
        .append_audit(&NewAuditEvent {
            at: issued_at.unix_timestamp(),
            actor: &who.actor().account_id,
            action: "cert.revocation_receipt",
            object: &format!("cert:{}", record.serial_hex()),
            facility: l.evidence.facility_code.as_deref(),
            summary: &format!(
                "signed the revocation receipt of {} (first CRL #{}) with {}; SHA-256 {}",
                record.serial_hex(),
                record.first_crl.number,
                signer.record.name,
                hex::encode(sha2::Sha256::digest(&der))
            ),
        })
        .await
        .map_err(AppError::from);
    crate::finish(tx, r).await?;
    Ok(Receipt { der, record })
}

/// The letter to the facility (「電子証明書失効のお知らせ」, A4 PDF in Japanese) for the
/// revocation of a holder's card certificate, once the first CRL listing it was read
/// back. The read is logged (G1).
pub async fn letter(app: &App, who: &Reader, serial: &str) -> Result<Vec<u8>, AppError> {
    let serial_hex = normalize(serial)?;
    let mut tx = app.store.read().await?;
    let r = async {
        let l = load_in_tx(&mut tx, who.scope(), &serial_hex).await?;
        published(&l.evidence)?;
        let Some(card) = l.card.clone() else {
            return Err(AppError::CaState(format!(
                "証明書 {serial_hex} は利用者カードの証明書ではないため、施設宛ての失効のお知らせは作成できません"
            )));
        };
        let facility = tx.facility(&card.facility_code).await?;
        let person = tx.person(&card.holder_id).await?;
        Ok((l, card, facility, person))
    }
    .await;
    tx.rollback().await?;
    let (l, card, facility, person) = r?;
    let e = &l.evidence;
    let ja = kmn_domain::time_fmt::ja_unix_secs;
    let grounds = e.grounds_label_ja().unwrap_or_else(|| {
        e.reason
            .map(|r| r.label_ja().to_string())
            .unwrap_or_default()
    });
    let letter = kmn_letters::RevocationLetter {
        facility_name_kanji: facility
            .map(|f| f.name_kanji)
            .unwrap_or_else(|| card.facility_code.clone()),
        facility_code: card.facility_code.clone(),
        holder_name_kanji: person
            .map(|p| p.name_kanji)
            .unwrap_or_else(|| card.holder_id.clone()),
        holder_id: card.holder_id.clone(),
        card_id: card.id.clone(),
        serial_hex: e.serial_hex.clone(),
        grounds,
        article: e.article.clone(),
        reason_ja: e
            .reason
            .map(|r| r.label_ja().to_string())
            .unwrap_or_default(),
        channel: e.channel_label_ja().unwrap_or("（記録なし）").to_string(),
        request_received_at: e.request_received_at.map(ja),
        revoked_at: ja(e.revoked_at.unwrap_or_default()),
        crl_number: e.first_crl_number.unwrap_or_default(),
        crl_published_at: ja(e.first_crl_published_at.unwrap_or_default()),
        ocsp_at: e.first_ocsp_at.map(ja),
        issued_on: app.clock.now().to_offset(kmn_domain::time_fmt::JST).date(),
        support_phone: app.cfg.support_center_phone.clone(),
    };
    let font = kmn_letters::Font::load_default().map_err(|e| AppError::Config(e.to_string()))?;
    let pdf = kmn_letters::revocation_letter_pdf(&font, &letter)
        .map_err(|e| AppError::Internal(format!("失効のお知らせを作成できません: {e}")))?;
    crate::audit::log_read(
        app,
        who.actor(),
        "read",
        &format!("cert:{serial_hex}/revocation-letter"),
        Some(&card.facility_code),
    )
    .await?;
    Ok(pdf)
}

/// A receipt whose signature, signer and record were checked.
#[derive(Clone, Debug)]
pub struct VerifiedReceipt {
    /// The record.
    pub record: RevocationReceipt,
    /// The subjects of the signer's path, signer first, root last.
    pub chain: Vec<String>,
    /// The signingTime attribute.
    pub signing_time: Option<OffsetDateTime>,
    /// Whether a CRL file was given and its SHA-256 matched the record's.
    pub crl_matched: bool,
}

/// Whether the certificate `der` has the extended key usage `eku`.
fn has_eku(der: &[u8], eku: &[u8]) -> bool {
    parse::cert(der).is_ok_and(|c| {
        c.tbs.ext(&oid::EXT_EXT_KEY_USAGE).is_some_and(|e| {
            kmn_pki::derr::read_one(e.value, kmn_pki::derw::tag::SEQUENCE)
                .and_then(|s| kmn_pki::derr::children(s.content))
                .map(|v| {
                    v.iter()
                        .any(|o| o.tag == kmn_pki::derw::tag::OID && o.content == eku)
                })
                .unwrap_or(false)
        })
    })
}

/// `kmn receipt verify`: checks the CMS signature, that the eContentType is
/// id-ct-kmnRevocationReceipt, that the signer's certificate chains (through the
/// certificates the receipt carries) to one of `anchors` at the signing time and has
/// id-kp-documentSigning, decodes the record, and — given the CRL file of the
/// repository — that its SHA-256 is the record's. Errors are in Japanese.
pub fn verify_receipt(
    der: &[u8],
    anchors: &[Vec<u8>],
    crl: Option<&[u8]>,
) -> Result<VerifiedReceipt, AppError> {
    let bad = |m: String| AppError::BadInput(m);
    let signed = cms::verify(der).map_err(|e| bad(format!("署名を検証できません: {e}")))?;
    if !signed.content_type_is(&oid::CT_REVOCATION_RECEIPT) {
        return Err(bad(format!(
            "失効の証明（eContentType {}）ではありません",
            oid::CT_REVOCATION_RECEIPT
        )));
    }
    let record = RevocationReceipt::from_der(&signed.content)
        .map_err(|e| bad(format!("失効の証明の内容を読み取れません: {e}")))?;
    if anchors.is_empty() {
        return Err(bad(
            "ルート認証局の証明書がありません（--root で指定してください）".into(),
        ));
    }
    let when = signed.signing_time.unwrap_or(record.issued_at);
    let path = kmn_verify::verify(
        &signed.signer_cert,
        anchors,
        &signed.certificates,
        &[],
        &kmn_verify::VerifyOptions::new(when),
    )
    .map_err(|e| {
        bad(format!(
            "署名者の証明書をルート認証局まで検証できません: {e}"
        ))
    })?;
    if !has_eku(&signed.signer_cert, oid::KP_DOCUMENT_SIGNING.as_bytes()) {
        return Err(bad(
            "署名者の証明書に文書署名用途（id-kp-documentSigning）がありません".into(),
        ));
    }
    if signed.signing_time.is_some_and(|t| t != record.issued_at) {
        return Err(bad(
            "署名時刻（signingTime）と失効の証明の作成日時（issuedAt）が一致しません".into(),
        ));
    }
    let crl_matched = match crl {
        None => false,
        Some(bytes) => {
            let ders = kmn_verify::load_crls(bytes)
                .map_err(|e| bad(format!("CRLを読み取れません: {e}")))?;
            let got = ders
                .first()
                .map(|d| <[u8; 32]>::from(sha2::Sha256::digest(d)))
                .ok_or_else(|| bad("CRLのファイルが空です".into()))?;
            if got != record.first_crl.sha256 {
                return Err(bad(format!(
                    "CRLのSHA-256（{}）が失効の証明に記録された第{}号のCRLのSHA-256（{}）と一致しません",
                    hex::encode(got),
                    record.first_crl.number,
                    hex::encode(record.first_crl.sha256)
                )));
            }
            true
        }
    };
    Ok(VerifiedReceipt {
        record,
        chain: path.subjects,
        signing_time: signed.signing_time,
        crl_matched,
    })
}

/// The root certificates in the data dir's repository (the trust anchors of
/// `kmn receipt verify` when `--root` is not given).
pub fn repository_roots(app: &App) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(app.repo_dir()) {
        for e in rd.flatten() {
            if e.path().extension().and_then(|x| x.to_str()) != Some("crt") {
                continue;
            }
            let Ok(der) = std::fs::read(e.path()) else {
                continue;
            };
            if parse::cert(&der).is_ok_and(|c| c.tbs.issuer == c.tbs.subject) {
                out.push(der);
            }
        }
    }
    out
}
