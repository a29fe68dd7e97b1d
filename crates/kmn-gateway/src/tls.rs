//! The TLS side: TLS 1.3, and TLS 1.2 for RSA cards without PSS (DESIGN §4); a client
//! certificate is requested but checked only after the handshake.
//!
//! [`HandshakeVerifier`] accepts any certificate that parses as X.509 and proves possession
//! of its key (the handshake signature is verified as usual), so that a person whose card
//! is refused still reaches the gateway's page that says why in Japanese (a refusal inside
//! the handshake shows the browser's own, untranslatable error). The real check —
//! [`crate::CredentialCheck`] — runs on every request, and nothing is forwarded before it
//! passes. A client without a certificate completes the handshake too and gets the page.

use std::path::Path;
use std::sync::Arc;

use der::{Decode, Encode};
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Accepts any parseable client certificate at handshake time (see the module doc).
#[derive(Debug)]
pub struct HandshakeVerifier {
    hints: Vec<DistinguishedName>,
    algs: WebPkiSupportedAlgorithms,
}

impl HandshakeVerifier {
    /// `anchors`: DER trust anchors, whose subjects are sent as certificate_authorities
    /// hints (a browser then offers only the network's cards).
    pub fn new(anchors: &[Vec<u8>], algs: WebPkiSupportedAlgorithms) -> HandshakeVerifier {
        let hints = anchors
            .iter()
            .filter_map(|a| x509_cert::Certificate::from_der(a).ok())
            .filter_map(|c| c.tbs_certificate().subject().to_der().ok())
            .map(DistinguishedName::from)
            .collect();
        HandshakeVerifier { hints, algs }
    }
}

impl ClientCertVerifier for HandshakeVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        x509_cert::Certificate::from_der(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// The server configuration: the certificate chain and key (PEM files), TLS 1.3 and, if
/// `tls12`, TLS 1.2; ALPN http/1.1.
pub fn server_config(
    cert: &Path,
    key: &Path,
    anchors: &[Vec<u8>],
    tls12: bool,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read the key {}: {e}", key.display()))?;
    let verifier = Arc::new(HandshakeVerifier::new(
        anchors,
        provider.signature_verification_algorithms,
    ));
    let versions: &[&'static rustls::SupportedProtocolVersion] = if tls12 {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("the server certificate and key: {e}"))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
