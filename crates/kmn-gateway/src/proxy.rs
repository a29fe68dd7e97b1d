//! The HTTP side: routing, the per-request credential and facility checks, the headers
//! (RFC 9110 §7.6.1 hop-by-hop fields, forged `X-KMN-*` fields) and forwarding.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::config::{ACT_FOR_FACILITY_HEADER, CredentialKind, FacilityBinding, UpstreamConfig};
use crate::credential::{CredentialCheck, Identity};
use crate::loginlog::{Event, LoginLog};
use crate::refusal::{self, Reason, Refusal};

/// The body type of every answer.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// A cached check is asked again after this long even if no CRL changed (expiry,
/// nextUpdate and the unreachable grace move with the clock).
const RECHECK_AFTER: Duration = Duration::from_secs(5);

/// The headers the gateway sets; any a client sends, in any letter case, are removed.
pub const IDENTITY_HEADERS: [&str; 5] = [
    "x-kmn-holder-id",
    "x-kmn-facility-code",
    "x-kmn-credential",
    "x-kmn-profession",
    "x-kmn-cert-serial",
];

/// Hop-by-hop fields (RFC 9110 §7.6.1, and the legacy ones proxies still meet).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// One configured upstream, ready to route to.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub cfg: UpstreamConfig,
    authority: String,
    base_path: String,
}

impl Upstream {
    pub fn new(cfg: UpstreamConfig) -> Result<Upstream, String> {
        let uri: hyper::Uri = cfg
            .url
            .parse()
            .map_err(|e| format!("upstream '{}': {e}", cfg.name))?;
        let authority = uri
            .authority()
            .ok_or_else(|| format!("upstream '{}': url has no host", cfg.name))?
            .to_string();
        let base_path = uri.path().trim_end_matches('/').to_string();
        Ok(Upstream {
            cfg,
            authority,
            base_path,
        })
    }

    fn matches_path(&self, path: &str) -> bool {
        let p = &self.cfg.path_prefix;
        if p.ends_with('/') {
            path.starts_with(p.as_str()) || path == p.trim_end_matches('/')
        } else {
            path == p || path.starts_with(&format!("{p}/"))
        }
    }
}

/// What every connection shares.
pub struct Shared {
    pub check: Arc<dyn CredentialCheck>,
    pub upstreams: Vec<Upstream>,
    pub client: Client<HttpConnector, Incoming>,
    pub log: LoginLog,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// A check's answer: the generation it was made in, when, and the answer.
type Cached = (u64, Instant, Result<Identity, Refusal>);

/// One TLS connection: the peer and its certificate, and the last check's answer.
pub struct Conn {
    pub remote: SocketAddr,
    pub leaf: Option<Vec<u8>>,
    cache: Mutex<Option<Cached>>,
}

impl Conn {
    pub fn new(remote: SocketAddr, leaf: Option<Vec<u8>>) -> Conn {
        Conn {
            remote,
            leaf,
            cache: Mutex::new(None),
        }
    }

    /// The check for this connection's certificate: asked again when the revocation data
    /// changed ([`CredentialCheck::generation`]) or [`RECHECK_AFTER`] passed, so a kept-alive
    /// connection of a card revoked meanwhile is refused at its next request.
    async fn identity(&self, check: &dyn CredentialCheck) -> Result<Identity, Refusal> {
        let Some(leaf) = &self.leaf else {
            return Err(Refusal::new(
                Reason::NoCertificate,
                "no client certificate was presented",
            ));
        };
        let generation = check.generation();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((g, at, r)) = &*cache
                && *g == generation
                && at.elapsed() < RECHECK_AFTER
            {
                return r.clone();
            }
        }
        let r = check.check(leaf, time::OffsetDateTime::now_utc()).await;
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((generation, Instant::now(), r.clone()));
        r
    }
}

fn full(r: Response<http_body_util::Full<Bytes>>) -> Response<Body> {
    r.map(|b| b.map_err(|never| match never {}).boxed())
}

/// The host a request is for, lower case, without the port.
fn request_host(req: &Request<Incoming>) -> Option<String> {
    let h = req.uri().host().map(str::to_string).or_else(|| {
        req.headers()
            .get(hyper::header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    })?;
    let h = if h.starts_with('[') {
        h.split(']').next().map(|x| format!("{x}]")).unwrap_or(h)
    } else {
        h.split(':').next().unwrap_or("").to_string()
    };
    Some(h.to_ascii_lowercase())
}

/// Routing: upstreams naming this host first (else those for any host), then the longest
/// path prefix.
pub fn route<'a>(
    upstreams: &'a [Upstream],
    host: Option<&str>,
    path: &str,
) -> Option<&'a Upstream> {
    let best = |for_host: bool| {
        upstreams
            .iter()
            .filter(|u| match (&u.cfg.host, for_host) {
                (Some(h), true) => host.is_some_and(|x| x.eq_ignore_ascii_case(h)),
                (None, false) => true,
                _ => false,
            })
            .filter(|u| u.matches_path(path))
            .max_by_key(|u| u.cfg.path_prefix.len())
    };
    best(true).or_else(|| best(false))
}

/// Removes the hop-by-hop fields, every field named in `Connection`, and (for requests)
/// the identity fields and forwarding fields a client may have forged.
pub fn strip_headers(h: &mut HeaderMap, request: bool) {
    let named: Vec<HeaderName> = h
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in HOP_BY_HOP {
        h.remove(n);
    }
    if request {
        // Header names are case-insensitive and hyper holds them in lower case, so this
        // catches `X-KMN-Holder-Id`, `x-kmn-holder-id` and `X-Kmn-HOLDER-ID` alike; every
        // `x-kmn-` field goes, not only the five the gateway sets.
        let forged: Vec<HeaderName> = h
            .keys()
            .filter(|k| {
                let k = k.as_str();
                k.starts_with("x-kmn-") || k.starts_with("x-forwarded-") || k == "forwarded"
            })
            .cloned()
            .collect();
        for n in forged {
            h.remove(n);
        }
    }
}

fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
        h.insert(HeaderName::from_static(name), v);
    }
}

fn path_only(req: &Request<Incoming>) -> String {
    req.uri().path().to_string()
}

/// Serves one request.
pub async fn handle(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let html = refusal::wants_html(
        req.headers()
            .get(hyper::header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    let method = req.method().to_string();
    let path = path_only(&req);
    let remote = conn.remote.to_string();
    let refuse = |refusal: Refusal, identity: Option<Identity>| {
        shared.metrics.refused(refusal.reason.code());
        tracing::warn!(
            remote = %remote,
            method = %method,
            path = %path,
            reason = refusal.reason.code(),
            "refused: {}",
            refusal.detail
        );
        let claimed = conn.leaf.as_deref().and_then(crate::credential::presented);
        shared.log.record(Event::Refused {
            at: time::OffsetDateTime::now_utc(),
            identity,
            claimed,
            remote: remote.clone(),
            method: method.clone(),
            path: path.clone(),
            reason: format!("{}: {}", refusal.reason.code(), refusal.detail),
        });
        Ok(full(refusal::response(&refusal.reason, html)))
    };

    let host = request_host(&req);
    let Some(upstream) = route(&shared.upstreams, host.as_deref(), &path) else {
        return refuse(
            Refusal::new(
                Reason::UnknownService,
                format!("no upstream for host {host:?} and path {path}"),
            ),
            None,
        );
    };
    let mut identity = match conn.identity(shared.check.as_ref()).await {
        Ok(i) => i,
        Err(r) => return refuse(r, None),
    };
    if !upstream.cfg.accept.contains(&identity.credential) {
        let kind = identity.credential.label_ja();
        let detail = format!(
            "upstream '{}' does not accept {} credentials ('{}')",
            upstream.cfg.name,
            identity.credential.as_str(),
            identity.subject
        );
        return refuse(
            Refusal::new(Reason::CredentialNotAccepted { kind }, detail),
            Some(identity),
        );
    }
    // 第4条2: a card is used only at the facility that applied for it; a doctor only at
    // a facility the registry binds the card to. Operator certificates (the center's
    // staff) carry no facility and are not bound.
    if matches!(
        identity.credential,
        CredentialKind::KmnCard | CredentialKind::Hpki
    ) {
        let required = match &upstream.cfg.facility {
            FacilityBinding::Fixed { code } => code.clone(),
            FacilityBinding::PerRequest => {
                let asked = req
                    .headers()
                    .get(ACT_FOR_FACILITY_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
                    .unwrap_or("");
                if asked.is_empty() {
                    return refuse(
                        Refusal::new(
                            Reason::FacilityMissing,
                            format!(
                                "upstream '{}' binds per request and the request has no X-KMN-Act-For-Facility",
                                upstream.cfg.name
                            ),
                        ),
                        Some(identity),
                    );
                }
                asked.to_string()
            }
        };
        if identity.credential == CredentialKind::Hpki {
            let Some(b) = identity
                .bindings
                .iter()
                .find(|b| b.facility_code == required)
                .cloned()
            else {
                let detail = format!(
                    "doctor {} (bound to {}) at upstream '{}' for facility {required}",
                    identity.cert_serial,
                    identity
                        .bindings
                        .iter()
                        .map(|b| b.facility_code.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    upstream.cfg.name
                );
                return refuse(
                    Refusal::new(Reason::DoctorFacilityMismatch { required }, detail),
                    Some(identity),
                );
            };
            identity.holder_id = b.binding_id;
            identity.facility_code = Some(required);
            identity.profession = Some(b.profession);
        } else {
            let cert_facility = identity.facility_code.clone().unwrap_or_default();
            if cert_facility != required {
                let detail = format!(
                    "card of facility {cert_facility} at upstream '{}' for facility {required}",
                    upstream.cfg.name
                );
                return refuse(
                    Refusal::new(
                        Reason::FacilityMismatch {
                            cert: cert_facility,
                            required,
                        },
                        detail,
                    ),
                    Some(identity),
                );
            }
        }
    }

    // Forward.
    let (mut parts, body) = req.into_parts();
    let original_host = parts.headers.get(hyper::header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    strip_headers(&mut parts.headers, true);
    let rest = if upstream.cfg.strip_prefix {
        let p = upstream.cfg.path_prefix.trim_end_matches('/');
        let r = path.strip_prefix(p).unwrap_or(&path);
        if r.starts_with('/') {
            r.to_string()
        } else {
            format!("/{r}")
        }
    } else {
        path.clone()
    };
    let pq = match parts.uri.query() {
        Some(q) => format!("{}{rest}?{q}", upstream.base_path),
        None => format!("{}{rest}", upstream.base_path),
    };
    let uri = match format!("http://{}{pq}", upstream.authority).parse::<hyper::Uri>() {
        Ok(u) => u,
        Err(e) => {
            return refuse(
                Refusal::new(
                    Reason::UnknownService,
                    format!("cannot build the upstream URI: {e}"),
                ),
                Some(identity),
            );
        }
    };
    parts.uri = uri;
    parts.version = hyper::Version::HTTP_11;
    let h = &mut parts.headers;
    if let Ok(v) = HeaderValue::from_str(&upstream.authority) {
        h.insert(hyper::header::HOST, v);
    }
    if let Some(v) = original_host {
        h.insert(HeaderName::from_static("x-forwarded-host"), v);
    }
    set(h, "x-forwarded-proto", "https");
    set(h, "x-forwarded-for", &conn.remote.ip().to_string());
    set(h, "x-kmn-holder-id", &identity.holder_id);
    if let Some(f) = &identity.facility_code {
        set(h, "x-kmn-facility-code", f);
    }
    set(h, "x-kmn-credential", identity.credential.as_str());
    if let Some(p) = &identity.profession {
        set(h, "x-kmn-profession", p);
    }
    set(h, "x-kmn-cert-serial", &identity.cert_serial);

    let upstream_name = upstream.cfg.name.clone();
    match shared
        .client
        .request(Request::from_parts(parts, body))
        .await
    {
        Ok(resp) => {
            shared.metrics.forwarded();
            let (mut parts, body) = resp.into_parts();
            strip_headers(&mut parts.headers, false);
            shared.log.record(Event::Access {
                at: time::OffsetDateTime::now_utc(),
                identity,
                remote: remote.clone(),
                upstream: upstream_name,
                method: method.clone(),
                path: path.clone(),
                status: parts.status.as_u16(),
            });
            Ok(Response::from_parts(parts, body.boxed()))
        }
        Err(e) => {
            tracing::warn!(upstream = %upstream_name, "upstream error: {e}");
            shared.metrics.upstream_error();
            shared.log.record(Event::Access {
                at: time::OffsetDateTime::now_utc(),
                identity,
                remote: remote.clone(),
                upstream: upstream_name,
                method: method.clone(),
                path: path.clone(),
                status: 502,
            });
            Ok(full(refusal::response(&Reason::UpstreamUnavailable, html)))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn up(name: &str, prefix: &str, host: Option<&str>) -> Upstream {
        Upstream::new(UpstreamConfig {
            name: name.into(),
            url: "http://127.0.0.1:9/base/".into(),
            path_prefix: prefix.into(),
            host: host.map(str::to_string),
            strip_prefix: false,
            accept: vec![CredentialKind::KmnCard],
            facility: FacilityBinding::PerRequest,
        })
        .unwrap()
    }

    #[test]
    fn routing_by_host_then_longest_prefix() {
        let u = [
            up("root", "/", None),
            up("viewer", "/viewer", None),
            up("clinic", "/", Some("clinic.example.jp")),
        ];
        let r = |h: Option<&str>, p: &str| route(&u, h, p).map(|u| u.cfg.name.as_str());
        assert_eq!(r(None, "/viewer/x"), Some("viewer"));
        assert_eq!(r(None, "/viewer"), Some("viewer"));
        assert_eq!(r(None, "/viewerx"), Some("root"));
        assert_eq!(r(Some("clinic.example.jp"), "/viewer/x"), Some("clinic"));
        assert_eq!(u[0].base_path, "/base");
    }

    #[test]
    fn rfc9110_hop_by_hop_and_forged_identity_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, X-Secret, x-kmn-profession"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            HeaderName::from_bytes(b"X-KMN-Holder-Id").unwrap(),
            HeaderValue::from_static("H1"),
        );
        h.insert(
            HeaderName::from_bytes(b"x-Kmn-FACILITY-code").unwrap(),
            HeaderValue::from_static("1"),
        );
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        h.insert("accept", HeaderValue::from_static("*/*"));
        strip_headers(&mut h, true);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("accept"));
    }
}
