//! The CLI as a client of the center's API over mutual TLS, with an account's
//! certificate: `kmn card personalize --server` (a station account, implementing
//! [`kmn_app::station::StationBackend`]: four or five calls a personalization) and `kmn
//! proposal` (support-center staff and supervisors: dual control, 第12条). One
//! connection per call (`Connection: close`).

use std::path::Path;
use std::sync::Arc;

use kmn_app::AppError;
use kmn_app::station::{KeyReport, StationBackend, StationIssued, StationRecord, StationTarget};
use kmn_token::SecretPin;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The center's API, as the account whose certificate is given.
pub struct ApiClient {
    host: String,
    port: u16,
    config: Arc<rustls::ClientConfig>,
}

fn pem_blocks(path: &Path, what: &str) -> Result<Vec<(String, Vec<u8>)>, AppError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        AppError::BadInput(format!(
            "{what}のファイル {} を読めません: {e}",
            path.display()
        ))
    })?;
    let mut out = Vec::new();
    let mut label: Option<String> = None;
    let mut b64 = String::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("-----BEGIN ") {
            label = Some(rest.trim_end_matches('-').to_string());
            b64.clear();
        } else if l.starts_with("-----END ") {
            if let Some(lb) = label.take() {
                use base64::Engine;
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|_| {
                        AppError::BadInput(format!(
                            "{what}のファイル {} の PEM が壊れています",
                            path.display()
                        ))
                    })?;
                out.push((lb, der));
            }
        } else if label.is_some() {
            b64.push_str(l);
        }
    }
    if out.is_empty() {
        return Err(AppError::BadInput(format!(
            "{what}のファイル {} に PEM がありません",
            path.display()
        )));
    }
    Ok(out)
}

/// `https://host:port` → (host, port); the port defaults to 443.
fn host_port(server: &str) -> Result<(String, u16), AppError> {
    let rest = server.strip_prefix("https://").ok_or_else(|| {
        AppError::BadInput(format!(
            "--server は https:// で始まる URL です（指定: {server}）"
        ))
    })?;
    let authority = rest.trim_end_matches('/');
    Ok(match authority.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse::<u16>().map_err(|_| {
                AppError::BadInput(format!("--server のポート番号が正しくありません: {server}"))
            })?,
        ),
        None => (authority.to_string(), 443),
    })
}

/// The roots (PEM) the server's TLS certificate must chain to.
fn roots(ca: &Path) -> Result<rustls::RootCertStore, AppError> {
    let mut roots = rustls::RootCertStore::empty();
    for (l, d) in pem_blocks(ca, "ルート証明書")? {
        if l == "CERTIFICATE" {
            roots
                .add(CertificateDer::from(d))
                .map_err(|e| AppError::BadInput(format!("ルート証明書を使えません: {e}")))?;
        }
    }
    Ok(roots)
}

impl ApiClient {
    /// `server` as [`ApiClient::new`]; the account's key on its operator card (token) in
    /// the reader of the PKCS#11 `module` (the card given by label or slot, or the only
    /// initialised one), logged in with `pin`; the certificate is the card's own.
    pub fn with_card(
        server: &str,
        module: &Path,
        label: Option<&str>,
        slot: Option<u64>,
        pin: &SecretPin,
        ca: &Path,
    ) -> Result<Self, AppError> {
        let (host, port) = host_port(server)?;
        let roots = roots(ca)?;
        let token = kmn_app::station::personalization::token_err;
        let m = kmn_token::Module::load(module).map_err(token)?;
        let slot = m
            .find_token(label, slot, kmn_token::Wanted::Card)
            .map_err(token)?;
        let config = kmn_token::tls::client_config(
            &m,
            slot,
            pin,
            &[1],
            Vec::new(),
            roots,
            rustls::ALL_VERSIONS,
        )
        .map_err(token)?;
        Ok(Self {
            host,
            port,
            config: Arc::new(config),
        })
    }

    /// `server` is `https://host:port`; `cert` the account's certificate chain (PEM),
    /// `key` its PKCS#8 key (PEM), `ca` the root that issued the server's TLS certificate.
    pub fn new(server: &str, cert: &Path, key: &Path, ca: &Path) -> Result<Self, AppError> {
        let (host, port) = host_port(server)?;
        let chain: Vec<CertificateDer<'static>> = pem_blocks(cert, "証明書")?
            .into_iter()
            .filter(|(l, _)| l == "CERTIFICATE")
            .map(|(_, d)| CertificateDer::from(d))
            .collect();
        let key_der = pem_blocks(key, "秘密鍵")?
            .into_iter()
            .find(|(l, _)| l == "PRIVATE KEY")
            .map(|(_, d)| d)
            .ok_or_else(|| {
                AppError::BadInput(format!(
                    "秘密鍵のファイル {} に PKCS#8（PRIVATE KEY）がありません",
                    key.display()
                ))
            })?;
        let roots = roots(ca)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| AppError::Internal(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(
                chain,
                PrivateKeyDer::try_from(key_der)
                    .map_err(|e| AppError::BadInput(format!("秘密鍵を使えません: {e}")))?,
            )
            .map_err(|e| AppError::BadInput(format!("証明書と秘密鍵を使えません: {e}")))?;
        Ok(Self {
            host,
            port,
            config: Arc::new(config),
        })
    }

    async fn connect(
        &self,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, AppError> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let name = ServerName::try_from(self.host.clone()).map_err(|e| {
            AppError::BadInput(format!("サーバー名 {} が正しくありません: {e}", self.host))
        })?;
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| self.unreachable(e.to_string()))
    }

    fn unreachable(&self, e: String) -> AppError {
        AppError::Unavailable(format!(
            "サーバー {}:{} に接続できません: {e}",
            self.host, self.port
        ))
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>, accept: &str) -> String {
        let body = body.map(Value::to_string).unwrap_or_default();
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: {accept}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.host,
            body.len()
        )
    }

    /// One call: the JSON answer, or the API's error in its own words.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, AppError> {
        let mut tls = self.connect().await?;
        tls.write_all(
            self.request(method, path, body.as_ref(), "application/json")
                .as_bytes(),
        )
        .await
        .map_err(|e| self.unreachable(e.to_string()))?;
        let mut buf = Vec::new();
        // The server closes after the response; a TLS close without close_notify is fine.
        let _ = tls.read_to_end(&mut buf).await;
        let (status, chunked, text) = self.split_response(&buf)?;
        let text = if chunked {
            dechunk(text)
        } else {
            text.to_vec()
        };
        let v: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&text).unwrap_or(Value::Null)
        };
        if status < 300 {
            return Ok(v);
        }
        Err(api_error(status, &v))
    }

    /// A call whose answer is streamed as JSON lines (`application/x-ndjson`): each
    /// complete line goes to `on_line` as it arrives; returns the last one. An error
    /// status before the stream began is the API's error, as for [`ApiClient::call`].
    pub async fn call_streamed(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        on_line: &mut dyn FnMut(&Value),
    ) -> Result<Value, AppError> {
        let mut tls = self.connect().await?;
        tls.write_all(
            self.request(method, path, body.as_ref(), "application/x-ndjson")
                .as_bytes(),
        )
        .await
        .map_err(|e| self.unreachable(e.to_string()))?;
        let mut raw = Vec::new();
        let mut head: Option<(u16, bool, usize)> = None;
        let mut emitted = 0usize;
        let mut last = Value::Null;
        let mut tail = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = tls.read(&mut chunk).await.unwrap_or(0);
            raw.extend_from_slice(chunk.get(..n).unwrap_or_default());
            if head.is_none()
                && let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n")
            {
                let (status, chunked, _) = self.split_response(&raw)?;
                head = Some((status, chunked, p + 4));
            }
            if let Some((status, chunked, at)) = head {
                let body = raw.get(at..).unwrap_or_default();
                let decoded = if chunked {
                    dechunk(body)
                } else {
                    body.to_vec()
                };
                if status >= 300 {
                    if n == 0 {
                        let v = serde_json::from_slice(&decoded).unwrap_or(Value::Null);
                        return Err(api_error(status, &v));
                    }
                    continue;
                }
                let mut lines: Vec<&[u8]> = decoded.split(|b| *b == b'\n').collect();
                // The last piece is a line still arriving (or empty).
                tail = lines.pop().unwrap_or_default().to_vec();
                for l in lines.iter().skip(emitted) {
                    if let Ok(v) = serde_json::from_slice::<Value>(l) {
                        on_line(&v);
                        last = v;
                    }
                }
                emitted = lines.len();
            }
            if n == 0 {
                break;
            }
        }
        if head.is_none() {
            return Err(self.unreachable("応答がありません".into()));
        }
        // An answer that is one JSON object without a newline (not a stream).
        if let Ok(v) = serde_json::from_slice::<Value>(&tail) {
            on_line(&v);
            last = v;
        }
        Ok(last)
    }

    fn split_response<'b>(&self, buf: &'b [u8]) -> Result<(u16, bool, &'b [u8]), AppError> {
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| self.unreachable("応答がありません".into()))?;
        let head = String::from_utf8_lossy(buf.get(..split).unwrap_or_default()).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.unreachable("応答を読めません".into()))?;
        let chunked = head.lines().any(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("transfer-encoding:") && l.contains("chunked")
        });
        Ok((status, chunked, buf.get(split + 4..).unwrap_or_default()))
    }
}

/// The complete chunks of a `Transfer-Encoding: chunked` body (RFC 9112 §7.1).
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let line = String::from_utf8_lossy(b.get(..eol).unwrap_or_default()).to_string();
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let Some(data) = b.get(start..start + size) else {
            break;
        };
        out.extend_from_slice(data);
        b = b.get(start + size + 2..).unwrap_or_default();
    }
    out
}

/// The API's error answer as the CLI's error: by its code when it has one, else by the
/// status (its message is already Japanese).
fn api_error(status: u16, v: &Value) -> AppError {
    let msg = v["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("HTTP {status}"));
    match v["code"].as_str() {
        Some("E_BAD_INPUT") => return AppError::BadInput(msg),
        Some("E_VALIDATION") => {
            return AppError::Validation(vec![kmn_app::error::FieldError::new(
                v["fields"][0]["field"].as_str().unwrap_or("body"),
                v["fields"][0]["message"].as_str().unwrap_or(&msg),
            )]);
        }
        Some("E_SELF_APPROVAL") => return AppError::SelfApproval(msg),
        Some("E_PROPOSAL_EXPIRED") => return AppError::ProposalExpired(msg),
        Some("E_PROPOSAL_ALTERED") => return AppError::ProposalAltered(msg),
        Some("E_RULE") => return AppError::Rule(msg),
        Some("E_CONFLICT") => return AppError::Conflict(msg),
        Some("E_NOT_FOUND") => return AppError::NotFound(msg),
        Some("E_FORBIDDEN") => return AppError::Forbidden(msg),
        _ => {}
    }
    match status {
        400 => AppError::BadInput(msg),
        401 => AppError::Unauthenticated(msg),
        403 => AppError::Forbidden(msg),
        404 => AppError::NotFound(msg),
        409 => AppError::Conflict(msg),
        422 => AppError::Rule(msg),
        503 => AppError::Unavailable(msg),
        _ => AppError::Internal(msg),
    }
}

/// The error of a streamed answer's last line (`{"error": ErrorBody}`), if it is one.
pub fn streamed_error(last: &Value) -> Option<AppError> {
    last.get("error").map(|e| api_error(500, e))
}

fn field(v: &Value, k: &str) -> Result<String, AppError> {
    v[k].as_str()
        .map(str::to_string)
        .ok_or_else(|| AppError::Internal(format!("サーバーの応答に {k} がありません")))
}

impl StationBackend for ApiClient {
    async fn target(&self, application_id: &str) -> Result<StationTarget, AppError> {
        let v = self
            .call(
                "GET",
                &format!("/api/v1/station/applications/{application_id}"),
                None,
            )
            .await?;
        Ok(StationTarget {
            application_id: field(&v, "application_id")?,
            holder_id: field(&v, "holder_id")?,
            holder_name_kanji: field(&v, "holder_name_kanji")?,
            facility_code: field(&v, "facility_code")?,
            facility_name_kanji: field(&v, "facility_name_kanji")?,
            support_center_phone: field(&v, "support_center_phone")?,
            kind: kmn_letters::MailerKind::UserCard,
        })
    }

    async fn so_pin(&self, token_serial: &str) -> Result<SecretPin, AppError> {
        let v = self
            .call(
                "POST",
                "/api/v1/station/so-pin",
                Some(json!({ "token_serial": token_serial })),
            )
            .await?;
        Ok(SecretPin::new(field(&v, "so_pin")?))
    }

    async fn issue(
        &self,
        application_id: &str,
        csr_der: &[u8],
        key: &KeyReport,
    ) -> Result<StationIssued, AppError> {
        let csr_pem = kmn_pki::cert::pem_encode("CERTIFICATE REQUEST", csr_der);
        let v = self
            .call(
                "POST",
                &format!("/api/v1/station/applications/{application_id}/certificate"),
                Some(json!({ "csr_pem": csr_pem, "key": key })),
            )
            .await?;
        let der = |pem: &str| {
            kmn_pki::cert::pem_or_der(pem.as_bytes(), "CERTIFICATE")
                .map_err(|e| AppError::Internal(format!("サーバーの証明書を読めません: {e}")))
        };
        let chain = v["chain_pem"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(der).collect())
            .unwrap_or_else(|| Ok(Vec::new()))?;
        Ok(StationIssued {
            serial_hex: field(&v, "serial_hex")?,
            der: der(&field(&v, "certificate_pem")?)?,
            chain,
            card_id: field(&v, "card_id")?,
        })
    }

    async fn complete(
        &self,
        application_id: &str,
        rec: &StationRecord,
    ) -> Result<(Value, Value), AppError> {
        let v = self
            .call(
                "POST",
                &format!("/api/v1/station/applications/{application_id}/card"),
                Some(serde_json::to_value(rec).map_err(|e| AppError::Internal(e.to_string()))?),
            )
            .await?;
        Ok((v["application"].clone(), v["card"].clone()))
    }

    async fn abort(&self, serial_hex: &str, why: &str) -> Result<(), AppError> {
        self.call(
            "POST",
            &format!("/api/v1/station/certificates/{serial_hex}/abort"),
            Some(json!({ "reason": why })),
        )
        .await
        .map(|_| ())
    }
}
