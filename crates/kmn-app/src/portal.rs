//! What the portal's overview pages read (issue 12), with the capabilities they need:
//! the support center's work queues, a card's whole timeline, the audit and access logs
//! for auditors, the people found by kana, the renewals due at a facility and the
//! dashboard's figures. Every read of personal data is logged (G1) like the API's.

use kmn_domain::time_fmt::JST;
use kmn_store::{AuditFilter, StateCount};

use crate::rights::{Auditor, Center, Reader};
use crate::{App, AppError};

/// A card whose validity ends within this many days is due for renewal: the facility
/// applies for the renewal in time (第10条, 第14条1: the renewal's overlap is 30 days).
pub const RENEWAL_NOTICE_DAYS: i64 = 90;

/// Whether a card's renewal is due at `now`: live, and ending within
/// [`RENEWAL_NOTICE_DAYS`].
pub fn renewal_due(card: &crate::views::Card, now: i64) -> bool {
    let live = matches!(
        card.state.as_str(),
        "personalized" | "shipped" | "received" | "handed_over" | "active" | "suspended"
    );
    live && card
        .not_after
        .is_some_and(|t| t > now && t - now <= RENEWAL_NOTICE_DAYS * 86_400)
}

/// The deficiencies the center finds most often on paper forms, offered as a checklist
/// when it returns an application (第6条2): (field, problem, action).
pub const DEFICIENCY_CHECKLIST: &[(&str, &str, &str)] = &[
    (
        "氏名（カナ）",
        "氏名のフリガナが記入されていません",
        "申請書の氏名欄にカタカナでフリガナを記入してください",
    ),
    (
        "生年月日",
        "生年月日の記載が本人確認書類と一致しません",
        "本人確認書類のとおりに訂正してください",
    ),
    (
        "署名・押印",
        "申請者の署名または施設の押印がありません",
        "署名と押印をして再提出してください",
    ),
    (
        "資格の確認",
        "医療資格を確認できる書類の写しが添付されていません",
        "免許証の写しを添付してください",
    ),
    (
        "施設の同意",
        "施設管理者の同意欄が空欄です",
        "施設管理者の署名を得てください",
    ),
];

/// One work queue of the support center.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Queue {
    /// Stable key (`review`, `personalize`, `ship`, `receipt`, `mailers`, `revocations`).
    pub key: &'static str,
    /// What people read.
    pub label: &'static str,
    /// How many items wait.
    pub count: i64,
    /// Since when the oldest waits (Unix seconds).
    pub oldest: Option<i64>,
    /// Where the list is (a portal path).
    pub href: &'static str,
}

fn sum(rows: &[StateCount], states: &[&str]) -> (i64, Option<i64>) {
    rows.iter()
        .filter(|r| states.contains(&r.state.as_str()))
        .fold((0, None), |(n, o), r| {
            (
                n + r.count,
                match (o, r.oldest) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
            )
        })
}

/// The support center's work queues, on one page: applications to review, cards to
/// personalize, to ship, receipts pending, PIN mailers to dispatch, revocations waiting
/// for a supervisor — with counts and the age of the oldest.
pub async fn work_queues(app: &App, who: &Center) -> Result<Vec<Queue>, AppError> {
    let mut tx = app.store.read().await?;
    let r = async {
        let apps = tx.application_state_counts().await?;
        let cards = tx.card_state_counts().await?;
        let mailers = tx.pin_mailer_state_counts().await?;
        let proposals = tx.list_proposals(Some("proposed"), 1000).await?;
        Ok::<_, AppError>((apps, cards, mailers, proposals))
    }
    .await;
    tx.rollback().await?;
    let (apps, cards, mailers, proposals) = r?;
    let q = |key, label, href, (count, oldest): (i64, Option<i64>)| Queue {
        key,
        label,
        count,
        oldest,
        href,
    };
    let out = vec![
        q(
            "review",
            "審査待ちの申請",
            "/portal/applications?state=submitted",
            sum(&apps, &["submitted", "resubmitted"]),
        ),
        q(
            "personalize",
            "発行（カードへの書込み）待ち",
            "/portal/applications?state=approved",
            sum(&apps, &["approved"]),
        ),
        q(
            "ship",
            "発送待ちの利用者カード",
            "/portal/cards?state=personalized",
            sum(&cards, &["personalized"]),
        ),
        q(
            "receipt",
            "受領確認待ち（発送済み）",
            "/portal/cards?state=shipped",
            sum(&cards, &["shipped"]),
        ),
        q(
            "mailers",
            "発送可能なPIN通知書",
            "/portal/pin-mailers",
            sum(&mailers, &["released"]),
        ),
        q(
            "revocations",
            "責任者の承認待ち（失効の提案など）",
            "/portal/proposals",
            (
                proposals.len() as i64,
                proposals.iter().map(|p| p.proposed_at).min(),
            ),
        ),
    ];
    crate::audit::log_read(app, who.actor(), "list", "work_queues", None).await?;
    Ok(out)
}

/// One step in a card's life, from the audit log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TimelineEntry {
    /// When (Unix seconds).
    pub at: i64,
    /// The action code (`card.ship`, `cert.revoke`, …).
    pub action: String,
    /// The step as people read it.
    pub label: String,
    /// Who.
    pub actor: String,
    /// The audit summary.
    pub summary: String,
}

fn action_label(action: &str) -> String {
    if let Some(ev) = action.strip_prefix("card.")
        && let Ok(e) = ev.parse::<kmn_domain::CardEvent>()
    {
        return e.label_ja().to_string();
    }
    match action {
        "cert.issue" => "証明書の発行",
        "cert.revoke" => "証明書の失効",
        "cert.hold" => "証明書の一時保留",
        "cert.release" | "cert.unhold" | "cert.release_hold" => "証明書の保留解除",
        "cert.revocation_receipt" => "失効の証明の作成（署名）",
        "card.unlock" => "カードのロック解除（PINの再設定）",
        "card.personalize" | "card.record" | "station.complete" => "発行（カードへの書込み）",
        "card.emergency_revocation" | "emergency.revoke" => "緊急失効",
        "card.receipt" => "受領確認",
        "card.handover" => "交付",
        "card.ship" => "発送",
        _ => action,
    }
    .to_string()
}

/// A card with its delivery, its certificate's status and its whole timeline (issued,
/// shipped, received, handed over, suspended, revoked, returned, destroyed), for those
/// who may read the card (a desk: its own facility's; another's is answered like an
/// absent one). The read is logged.
pub async fn card_timeline(
    app: &App,
    who: &Reader,
    card_id: &str,
) -> Result<(crate::ra::delivery::CardView, Vec<TimelineEntry>), AppError> {
    let card_id = crate::ra::emergency::normalize_card_id(card_id);
    let v = crate::ra::delivery::view(app, who, &card_id).await?;
    let mut tx = app.store.read().await?;
    let r = tx
        .card_events(&v.card.id, v.card.cert_serial_hex.as_deref())
        .await;
    tx.rollback().await?;
    let events = r?
        .into_iter()
        .map(|e| TimelineEntry {
            at: e.at,
            label: action_label(&e.action),
            action: e.action,
            actor: e.actor,
            summary: e.summary,
        })
        .collect();
    Ok((v, events))
}

/// Filters of the audit log as a person gives them.
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    /// Actions starting with this.
    pub action: Option<String>,
    /// Objects starting with this.
    pub object: Option<String>,
    /// The actor (account) exactly.
    pub actor: Option<String>,
    /// The facility code exactly.
    pub facility: Option<String>,
    /// From this day (JST, inclusive), `YYYY-MM-DD`.
    pub from: Option<String>,
    /// To this day (JST, inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
    /// At most this many rows.
    pub limit: i64,
}

/// The start of a JST day given as `YYYY-MM-DD` (Unix seconds); a field error naming
/// `field` otherwise.
pub fn jst_day_start(field: &str, s: &str) -> Result<i64, AppError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &fmt)
        .map(|d| d.midnight().assume_offset(JST).unix_timestamp())
        .map_err(|_| {
            AppError::Validation(vec![crate::error::FieldError::new(
                field,
                "日付は 2026-12-02 の形で入力してください",
            )])
        })
}

fn bounds(q: &LogQuery) -> Result<(Option<i64>, Option<i64>), AppError> {
    let from = q
        .from
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| jst_day_start("from", s))
        .transpose()?;
    let to =
        q.to.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| jst_day_start("to", s).map(|t| t + 86_400))
            .transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(AppError::Validation(vec![crate::error::FieldError::new(
            "to",
            "終了日は開始日以降の日付にしてください",
        )]));
    }
    Ok((from, to))
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// An audit event as the auditor reads it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub facility: Option<String>,
    pub summary: String,
    pub hash: String,
}

/// The audit log, filtered, newest first (auditors; read-only). The read is logged.
pub async fn audit_log(app: &App, who: &Auditor, q: &LogQuery) -> Result<Vec<AuditRow>, AppError> {
    let (from, to) = bounds(q)?;
    let f = AuditFilter {
        action_prefix: nonempty(&q.action),
        object_prefix: nonempty(&q.object),
        actor: nonempty(&q.actor),
        facility: nonempty(&q.facility),
        from,
        to,
        limit: q.limit.clamp(1, 10_000),
    };
    let mut tx = app.store.read().await?;
    let r = tx.audit_events_filtered(&f).await;
    tx.rollback().await?;
    let v = r?;
    crate::audit::log_read(app, who.actor(), "list", "audit_log", f.facility.as_deref()).await?;
    Ok(v.into_iter()
        .map(|e| AuditRow {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            object: e.object,
            facility: e.facility,
            summary: e.summary,
            hash: e.hash,
        })
        .collect())
}

/// The personal-data access log, filtered (account, facility, days), newest first
/// (auditors). The read is itself logged.
pub async fn access_log(
    app: &App,
    who: &Auditor,
    q: &LogQuery,
) -> Result<Vec<kmn_store::AccessRow>, AppError> {
    let (from, to) = bounds(q)?;
    let account = nonempty(&q.actor);
    let facility = nonempty(&q.facility);
    let mut tx = app.store.read().await?;
    let r = tx
        .access_log_filtered(
            account.as_deref(),
            facility.as_deref(),
            from,
            to,
            q.limit.clamp(1, 10_000),
        )
        .await;
    tx.rollback().await?;
    let v = r?;
    crate::audit::log_read(app, who.actor(), "list", "access_log", facility.as_deref()).await?;
    Ok(v)
}

/// People whose name in kana starts with `kana` (spaces ignored; hiragana is read as
/// katakana), within the caller's reach (a desk: its own facility). Logged.
pub async fn search_persons(
    app: &App,
    who: &Reader,
    kana: &str,
    facility: Option<&str>,
) -> Result<Vec<crate::views::Person>, AppError> {
    let key: String = kana
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{3000}'))
        .map(|c| match c {
            // Hiragana to katakana.
            '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            c => c,
        })
        .collect();
    if key.is_empty() {
        return Err(AppError::Validation(vec![crate::error::FieldError::new(
            "kana",
            "氏名（カナ）の最初の文字を入力してください",
        )]));
    }
    if key.chars().count() > 40
        || !key
            .chars()
            .all(|c| matches!(c, '\u{30A1}'..='\u{30FA}' | 'ー' | '・'))
    {
        return Err(AppError::Validation(vec![crate::error::FieldError::new(
            "kana",
            "氏名（カナ）はカタカナまたはひらがなで入力してください",
        )]));
    }
    let scope = who.listing(facility)?;
    let mut tx = app.store.read().await?;
    let r = tx.persons_by_kana(&key, scope.as_deref(), 200).await;
    tx.rollback().await?;
    let v = r?;
    crate::audit::log_read(
        app,
        who.actor(),
        "list",
        &format!("persons?kana={key}"),
        scope.as_deref(),
    )
    .await?;
    Ok(v.into_iter().map(Into::into).collect())
}

/// The figures of the dashboard.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Dashboard {
    /// Cards by state: (label, count).
    pub cards_by_state: Vec<(String, i64)>,
    /// Applications per week, the last 12 weeks: (the week's Monday in JST, count).
    pub applications_per_week: Vec<(String, i64)>,
    /// Revocations in the last 365 days by grounds: (label, count).
    pub revocations_by_reason: Vec<(String, i64)>,
    /// The last CRL of each CA: (CA, number, age in seconds, entries, size in bytes).
    pub crls: Vec<(String, i64, i64, i64, Option<i64>)>,
    /// Live cards expiring in each of the coming 12 months: (`2027年1月`, count).
    pub expiries_by_month: Vec<(String, i64)>,
}

/// The dashboard (support center).
pub async fn dashboard(app: &App, who: &Center) -> Result<Dashboard, AppError> {
    let now = app.now();
    let now_j = time::OffsetDateTime::from_unix_timestamp(now)
        .map_err(|e| AppError::Internal(e.to_string()))?
        .to_offset(JST);
    let monday =
        now_j.date() - time::Duration::days(i64::from(now_j.weekday().number_days_from_monday()));
    let first_week = monday - time::Duration::weeks(11);
    let first_week_start = first_week.midnight().assume_offset(JST).unix_timestamp();
    // The first day of each of the next 12 months (and of the 13th, the end).
    let mut months = Vec::new();
    let (mut y, mut m) = (now_j.year(), u8::from(now_j.month()));
    for _ in 0..13 {
        let d = time::Date::from_calendar_date(
            y,
            time::Month::try_from(m).map_err(|e| AppError::Internal(e.to_string()))?,
            1,
        )
        .map_err(|e| AppError::Internal(e.to_string()))?;
        months.push((y, m, d.midnight().assume_offset(JST).unix_timestamp()));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    let end = months.last().map(|x| x.2).unwrap_or(now);
    let mut tx = app.store.read().await?;
    let r = async {
        let cards = tx.card_state_counts().await?;
        let apps = tx.application_times_since(first_week_start).await?;
        let revs = tx.revocations_since(now - 365 * 86_400).await?;
        let sizes = tx.last_crl_sizes().await?;
        let exp = tx.card_expiries_before(end).await?;
        Ok::<_, AppError>((cards, apps, revs, sizes, exp))
    }
    .await;
    tx.rollback().await?;
    let (cards, apps, revs, sizes, exp) = r?;
    let crl_summaries = crate::views::public::last_crls(app).await?;
    let cards_by_state = cards
        .iter()
        .map(|c| {
            let label = c
                .state
                .parse::<kmn_domain::CardState>()
                .map(|s| s.label_ja().to_string())
                .unwrap_or_else(|_| c.state.clone());
            (label, c.count)
        })
        .collect();
    let applications_per_week = (0..12)
        .map(|w| {
            let d = first_week + time::Duration::weeks(w);
            let start = d.midnight().assume_offset(JST).unix_timestamp();
            let n = apps
                .iter()
                .filter(|&&t| t >= start && t < start + 7 * 86_400)
                .count() as i64;
            (format!("{}/{}", u8::from(d.month()), d.day()), n)
        })
        .collect();
    let mut by_reason: Vec<(String, i64)> = Vec::new();
    for r in &revs {
        let label = match r
            .grounds
            .as_deref()
            .map(kmn_domain::RevocationGrounds::parse)
        {
            Some(Ok(g)) => g.label_ja(),
            _ => r
                .reason
                .and_then(|c| u8::try_from(c).ok())
                .and_then(kmn_domain::RevocationReason::from_code)
                .map(|x| x.label_ja().to_string())
                .unwrap_or_else(|| "理由の記録なし".into()),
        };
        match by_reason.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => by_reason.push((label, 1)),
        }
    }
    by_reason.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let crls = crl_summaries
        .iter()
        .map(|c| {
            let size = sizes
                .iter()
                .find(|(ca, n, _)| *ca == c.ca_name && *n == c.number)
                .and_then(|x| x.2);
            (
                c.ca_name.clone(),
                c.number,
                (now - c.this_update).max(0),
                c.entries,
                size,
            )
        })
        .collect();
    let expiries_by_month = months
        .windows(2)
        .map(|w| {
            let (y, m, start) = w[0];
            let n = exp.iter().filter(|&&t| t >= start && t < w[1].2).count() as i64;
            (format!("{y}年{m}月"), n)
        })
        .collect();
    crate::audit::log_read(app, who.actor(), "list", "dashboard", None).await?;
    Ok(Dashboard {
        cards_by_state,
        applications_per_week,
        revocations_by_reason: by_reason,
        crls,
        expiries_by_month,
    })
}

// --- Forms: a token against cross-site requests ----------------------------------------

/// How long a portal form token is accepted, seconds (a working day).
pub const FORM_TOKEN_SECS: i64 = 12 * 3600;

fn portal_form_mac(pepper: &[u8], account: &str, at: i64) -> aws_lc_rs::hmac::Tag {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, pepper);
    aws_lc_rs::hmac::sign(&key, format!("portal-form|{account}|{at}").as_bytes())
}

/// The token every state-changing portal form carries (client certificates are ambient
/// credentials: a cross-site page could make the browser post with them). Bound to the
/// account and the time, an HMAC under the center's server secret; it cannot be read
/// by another site.
pub fn form_token(app: &App, who: &crate::actor::Actor) -> Result<String, AppError> {
    let pepper = crate::ra::emergency::code_pepper(app)?;
    let at = app.now();
    Ok(format!(
        "{at}.{}",
        hex::encode(portal_form_mac(&pepper, &who.account_id, at).as_ref())
    ))
}

/// Whether `token` was made for this account within [`FORM_TOKEN_SECS`].
pub fn form_token_ok(app: &App, who: &crate::actor::Actor, token: &str) -> bool {
    let Some((at, mac)) = token.split_once('.') else {
        return false;
    };
    let (Ok(at), Ok(mac)) = (at.parse::<i64>(), hex::decode(mac)) else {
        return false;
    };
    let now = app.now();
    if at > now + 60 || now - at > FORM_TOKEN_SECS {
        return false;
    }
    let Ok(pepper) = crate::ra::emergency::code_pepper(app) else {
        return false;
    };
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &pepper);
    aws_lc_rs::hmac::verify(
        &key,
        format!("portal-form|{}|{at}", who.account_id).as_bytes(),
        &mac,
    )
    .is_ok()
}

// --- Display preference: 西暦 or 和暦 ----------------------------------------------------

/// How the portal shows dates to one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DateStyle {
    /// 2026年12月2日 (the default).
    #[default]
    Western,
    /// 令和8年12月2日.
    Era,
}

impl DateStyle {
    /// Stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            DateStyle::Western => "western",
            DateStyle::Era => "era",
        }
    }

    /// Parses a code (a field error otherwise).
    pub fn parse(s: &str) -> Result<DateStyle, AppError> {
        match s.trim() {
            "western" => Ok(DateStyle::Western),
            "era" => Ok(DateStyle::Era),
            _ => Err(AppError::Validation(vec![crate::error::FieldError::new(
                "date_style",
                "日付の表示は「西暦」か「和暦」を選んでください",
            )])),
        }
    }
}

/// The account's own date style (its own preference: any authenticated account).
pub async fn date_style(app: &App, who: &crate::actor::Actor) -> Result<DateStyle, AppError> {
    let mut tx = app.store.read().await?;
    let r = tx.date_style(&who.account_id).await;
    tx.rollback().await?;
    Ok(match r?.as_deref() {
        Some("era") => DateStyle::Era,
        _ => DateStyle::Western,
    })
}

/// Records the account's own date style, with its audit event.
pub async fn set_date_style(
    app: &App,
    who: &crate::actor::Actor,
    style: DateStyle,
) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        tx.set_date_style(&who.account_id, style.as_str(), now)
            .await?;
        tx.append_audit(&kmn_store::NewAuditEvent {
            at: now,
            actor: &who.account_id,
            action: "portal.preference",
            object: &format!("account:{}", who.account_id),
            facility: who.facility.as_deref(),
            summary: &format!("date style set to {}", style.as_str()),
        })
        .await?;
        Ok::<_, AppError>(())
    }
    .await;
    crate::finish(tx, r).await
}

/// The audit chain's verification as the auditor's page shows it: how many checks held,
/// how many warnings and problems (`kmn audit verify` prints each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ChainStatus {
    pub checked: usize,
    pub warnings: usize,
    pub problems: usize,
}

/// Verifies the audit chain, its access-log seals and its newest checkpoint (auditors).
pub async fn chain_status(app: &App, who: &Auditor) -> Result<ChainStatus, AppError> {
    let r = crate::audit::verify(app).await?;
    crate::audit::log_read(app, who.actor(), "verify", "audit_log", None).await?;
    Ok(ChainStatus {
        checked: r.checked.len(),
        warnings: r.warnings.len(),
        problems: r.problems.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::action_label;

    /// Every step a card's timeline can hold reads in Japanese (the audit log's codes
    /// stay in the auditor's pages).
    #[test]
    fn issue12_card_timeline_steps_read_in_japanese() {
        for action in [
            "cert.issue",
            "cert.revoke",
            "cert.hold",
            "cert.release_hold",
            "cert.revocation_receipt",
            "card.personalize",
            "card.unlock",
            "card.emergency_revocation",
            "card.ship",
            "card.receipt",
            "card.handover",
            "card.report_lost",
            "card.request_return",
        ] {
            let label = action_label(action);
            assert!(
                !label.is_empty() && !label.is_ascii(),
                "{action} reads {label}"
            );
        }
    }
}
