//! `kmn card personalize --server`: the station as a client of the center's API over
//! mutual TLS (the station account's certificate), implementing
//! [`kmn_app::station::StationBackend`]. One connection per call (`Connection: close`);
//! a personalization makes four or five calls.

use std::path::Path;
use std::sync::Arc;

use kmn_app::AppError;
use kmn_app::station::{KeyReport, StationBackend, StationIssued, StationRecord, StationTarget};
use kmn_token::SecretPin;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The center's API, as a station account.
pub struct RemoteStation {
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

impl RemoteStation {
    /// `server` is `https://host:port`; `cert` the station's certificate chain (PEM),
    /// `key` its PKCS#8 key (PEM), `ca` the root that issued the server's TLS certificate.
    pub fn new(server: &str, cert: &Path, key: &Path, ca: &Path) -> Result<Self, AppError> {
        let rest = server.strip_prefix("https://").ok_or_else(|| {
            AppError::BadInput(format!(
                "--server は https:// で始まる URL です（指定: {server}）"
            ))
        })?;
        let authority = rest.trim_end_matches('/');
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_start_matches('[').trim_end_matches(']').to_string(),
                p.parse::<u16>().map_err(|_| {
                    AppError::BadInput(format!("--server のポート番号が正しくありません: {server}"))
                })?,
            ),
            None => (authority.to_string(), 443),
        };
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
        let mut roots = rustls::RootCertStore::empty();
        for (l, d) in pem_blocks(ca, "ルート証明書")? {
            if l == "CERTIFICATE" {
                roots
                    .add(CertificateDer::from(d))
                    .map_err(|e| AppError::BadInput(format!("ルート証明書を使えません: {e}")))?;
            }
        }
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

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, AppError> {
        let unreachable = |e: String| {
            AppError::Unavailable(format!(
                "サーバー {}:{} に接続できません: {e}",
                self.host, self.port
            ))
        };
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let name = ServerName::try_from(self.host.clone()).map_err(|e| {
            AppError::BadInput(format!("サーバー名 {} が正しくありません: {e}", self.host))
        })?;
        let mut tls = tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.host,
            body.len()
        );
        tls.write_all(req.as_bytes())
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let mut buf = Vec::new();
        // The server closes after the response; a TLS close without close_notify is fine.
        let _ = tls.read_to_end(&mut buf).await;
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| unreachable("応答がありません".into()))?;
        let head = String::from_utf8_lossy(&buf[..split]).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| unreachable("応答を読めません".into()))?;
        let text = &buf[split + 4..];
        let v: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(text).unwrap_or(Value::Null)
        };
        if status < 300 {
            return Ok(v);
        }
        let msg = v["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {status}"));
        Err(match status {
            400 => AppError::BadInput(msg),
            401 => AppError::Unauthenticated(msg),
            403 => AppError::Forbidden(msg),
            404 => AppError::NotFound(msg),
            409 => AppError::Conflict(msg),
            422 => AppError::Rule(msg),
            503 => AppError::Unavailable(msg),
            _ => AppError::Internal(msg),
        })
    }
}

fn field(v: &Value, k: &str) -> Result<String, AppError> {
    v[k].as_str()
        .map(str::to_string)
        .ok_or_else(|| AppError::Internal(format!("サーバーの応答に {k} がありません")))
}

impl StationBackend for RemoteStation {
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
