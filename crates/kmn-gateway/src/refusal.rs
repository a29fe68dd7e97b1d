//! Why a request was refused, in words the person understands: a Japanese HTML page for a
//! browser (`Accept` naming `text/html`), JSON with a stable code for API clients. The
//! technical detail goes to the log, never to the page.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};

/// The refusal reasons (the `error` code of the JSON answer and of the login record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No client certificate was presented.
    NoCertificate,
    /// The certificate is revoked (date as kmn-verify gives it).
    Revoked {
        date: String,
    },
    Expired,
    NotYetValid,
    /// No current CRL covers the certificate (past nextUpdate, unreachable): fail closed.
    RevocationUnavailable,
    /// Not issued by the network's CA (no path, bad signature…).
    Untrusted,
    /// Not a login credential of this network (policy, purpose, profile).
    WrongCredential,
    /// Unparsable or otherwise invalid.
    InvalidCertificate,
    /// The upstream does not accept this kind of credential.
    CredentialNotAccepted {
        kind: &'static str,
    },
    /// Fixed binding: the certificate's facility is not the upstream's.
    FacilityMismatch {
        cert: String,
        required: String,
    },
    /// Per-request binding: the request names no facility.
    FacilityMissing,
    /// An HPKI certificate that is not the authentication certificate: the signature
    /// certificate (nonRepudiation, the signature policy) or one without the auth policy.
    HpkiSignatureCertificate,
    /// An HPKI authentication certificate with no active binding in the doctor registry.
    DoctorNotRegistered,
    /// A doctor registered, but not for the facility the upstream (or the request) names.
    DoctorFacilityMismatch {
        required: String,
    },
    /// The doctor registry could not be asked (and no answer within the grace is held).
    RegistryUnavailable,
    /// Issued by a CA that is none of the configured anchors (ours or an `[[hpki]]`).
    UnknownAnchor,
    /// The OCSP responder does not know the certificate (`unknown`).
    RevocationUnknown,
    /// No upstream serves this host and path.
    UnknownService,
    /// The upstream did not answer.
    UpstreamUnavailable,
}

impl Reason {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NoCertificate => "no_certificate",
            Reason::Revoked { .. } => "revoked",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::RevocationUnavailable => "revocation_unavailable",
            Reason::Untrusted => "untrusted",
            Reason::WrongCredential => "wrong_credential",
            Reason::InvalidCertificate => "invalid_certificate",
            Reason::CredentialNotAccepted { .. } => "credential_not_accepted",
            Reason::FacilityMismatch { .. } => "facility_mismatch",
            Reason::FacilityMissing => "facility_missing",
            Reason::HpkiSignatureCertificate => "hpki_signature_certificate",
            Reason::DoctorNotRegistered => "doctor_not_registered",
            Reason::DoctorFacilityMismatch { .. } => "facility_mismatch",
            Reason::RegistryUnavailable => "registry_unavailable",
            Reason::UnknownAnchor => "unknown_anchor",
            Reason::RevocationUnknown => "revocation_unknown",
            Reason::UnknownService => "unknown_service",
            Reason::UpstreamUnavailable => "upstream_unavailable",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Reason::UnknownService => StatusCode::NOT_FOUND,
            Reason::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            Reason::RevocationUnavailable | Reason::RegistryUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Reason::FacilityMissing => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        }
    }

    /// A short title (Japanese).
    pub fn title_ja(&self) -> &'static str {
        match self {
            Reason::UnknownService => "ページが見つかりません",
            Reason::UpstreamUnavailable => "サービスに接続できません",
            Reason::RevocationUnavailable | Reason::RegistryUnavailable => "現在ログインできません",
            _ => "ログインできません",
        }
    }

    /// The explanation for the person (Japanese).
    pub fn message_ja(&self) -> String {
        match self {
            Reason::NoCertificate => "利用者カードの証明書が提示されていません。カードをカードリーダーに挿してから、ブラウザをいったん閉じてもう一度お試しください。".into(),
            Reason::Revoked { date } => format!("この利用者カードの証明書は失効しています（失効日時 {date}）。このカードではログインできません。所属施設の窓口にご相談ください。"),
            Reason::Expired => "この利用者カードの証明書は有効期限が切れています。所属施設の窓口で更新の手続きをしてください。".into(),
            Reason::NotYetValid => "この利用者カードの証明書はまだ有効期間が始まっていません。有効期間の開始後にお試しください。".into(),
            Reason::RevocationUnavailable => "カードが失効していないことを確認できないため、安全のためログインを止めています。しばらくしてからもう一度お試しください。続くときはシステム管理者にご連絡ください。".into(),
            Reason::Untrusted => "この証明書は、くまもとメディカルネットワークの認証局が発行したものと確認できませんでした。利用者カードでログインしてください。".into(),
            Reason::WrongCredential => "この証明書は、このネットワークへのログインには使えない種類のものです。利用者カードでログインしてください。".into(),
            Reason::InvalidCertificate => "提示された証明書を読み取れませんでした。利用者カードでログインしてください。".into(),
            Reason::CredentialNotAccepted { kind } => format!("このサービスは{kind}でのログインを受け付けていません。"),
            Reason::FacilityMismatch { cert, required } => format!("この利用者カードは施設コード {cert} の施設のものです。このサービスには施設コード {required} の施設の利用者カードでのみログインできます（利用規約第4条2）。"),
            Reason::FacilityMissing => "どの施設の利用者として利用するかが指定されていません（X-KMN-Act-For-Facility）。利用する施設を選んでからもう一度お試しください。".into(),
            Reason::HpkiSignatureCertificate => "これは医師資格証（HPKI カード）の認証用の証明書ではありません（署名用の証明書など）。ログインには使えません。ブラウザが証明書を選ぶ画面で、医師資格証の「認証用」の証明書を選んでください。".into(),
            Reason::DoctorNotRegistered => "この医師資格証は、くまもとメディカルネットワークの医師登録にありません（登録が終わっているか、まだ承認されていません。カードを更新したときは改めて登録が必要です）。所属施設の窓口にご相談ください。".into(),
            Reason::DoctorFacilityMismatch { required } => format!("この医師資格証は、施設コード {required} の施設の医師としては登録されていません。このサービスには、その施設に登録された医師だけがログインできます（利用規約第4条2）。所属施設の窓口にご相談ください。"),
            Reason::RegistryUnavailable => "医師の登録を確認できないため、安全のためログインを止めています。しばらくしてからもう一度お試しください。続くときはシステム管理者にご連絡ください。".into(),
            Reason::UnknownAnchor => "この証明書の発行元の認証局は、このサービスでは受け付けていません。くまもとメディカルネットワークの利用者カード、または登録された医師資格証でログインしてください。".into(),
            Reason::RevocationUnknown => "失効情報の提供元（OCSP）がこの証明書を確認できなかったため、ログインできません。所属施設の窓口にご相談ください。".into(),
            Reason::UnknownService => "お探しのサービスは、このゲートウェイでは提供されていません。アドレスをお確かめください。".into(),
            Reason::UpstreamUnavailable => "サービスが応答しませんでした。しばらくしてからもう一度お試しください。続くときはシステム管理者にご連絡ください。".into(),
        }
    }
}

/// A refusal: the reason, and the technical detail for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub detail: String,
}

impl Refusal {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            detail: detail.into(),
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whether the client asked for HTML (a browser).
pub fn wants_html(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

/// The answer for `reason`: a Japanese page or JSON. Never cached.
pub fn response(reason: &Reason, html: bool) -> Response<Full<Bytes>> {
    let (ctype, body) = if html {
        (
            "text/html; charset=utf-8",
            format!(
                "<!DOCTYPE html>\n<html lang=\"ja\">\n<head><meta charset=\"utf-8\"><title>{t} — くまもとメディカルネットワーク</title></head>\n<body>\n<main>\n<h1>{t}</h1>\n<p>{m}</p>\n<p><small>理由コード: {c}</small></p>\n</main>\n</body>\n</html>\n",
                t = escape(reason.title_ja()),
                m = escape(&reason.message_ja()),
                c = reason.code()
            ),
        )
    } else {
        (
            "application/json",
            serde_json::json!({
                "error": reason.code(),
                "message": reason.message_ja(),
            })
            .to_string(),
        )
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = reason.status();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(ctype),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}
