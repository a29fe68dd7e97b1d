//! TLS client authentication with the key on a SoftHSM2 card ([`kmn_token::tls`]) against
//! an in-process rustls server that requires a client certificate and checks it against
//! a CRL made by kmn-pki (`WebPkiClientVerifier` with `enforce_revocation_expiration`).
//!
//! The harness (one SoftHSM configuration per process; the legacy card without RSA-PSS
//! in a child process) is in `common/mod.rs`. Without SoftHSM2 the tests skip loudly,
//! except under `CI=true`, where they fail.

#[macro_use]
mod common;

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::*;
use kmn_domain::{CertSerial, CrlNumber, ProfileKind, RevocationReason};
use kmn_pki::cert::{CertTemplate, IssuerInfo, Urls, assemble, build_tbs};
use kmn_pki::crl::{CrlEntry, CrlParams, build_and_sign};
use kmn_pki::ext::AltName;
use kmn_pki::keys::{KeyAlgorithm, Signer as _, SoftwareKey};
use kmn_pki::name::DistinguishedName;
use kmn_token::cryptoki::object::{AttributeInfo, AttributeType};
use kmn_token::tls::{CardTlsKey, client_config, client_config_with_key};
use kmn_token::*;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use rustls::server::WebPkiClientVerifier;
use rustls::version::{TLS12, TLS13};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ProtocolVersion, RootCertStore, ServerConfig,
    SignatureScheme, SupportedProtocolVersion,
};
use time::OffsetDateTime;

// ------------------------------------------------------------------ a test CA

/// A software root CA (P-256) with a server certificate for `localhost`.
struct TestCa {
    key: SoftwareKey,
    cert: Vec<u8>,
    info: IssuerInfo,
    server_cert: Vec<u8>,
    server_key: Vec<u8>,
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::default();
    dn.push(kmn_pki::oid::AT_COUNTRY, "JP").unwrap();
    dn.push(kmn_pki::oid::AT_ORGANIZATION, "Kumamoto Medical Network")
        .unwrap();
    dn.push(kmn_pki::oid::AT_COMMON_NAME, cn).unwrap();
    dn
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

impl TestCa {
    fn new() -> TestCa {
        let (key, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        // A week back, so that an expired CRL can still be issued within the CA's validity.
        let start = now() - time::Duration::days(7);
        let info = IssuerInfo {
            subject_der: dn("TLS Test Root CA").to_der(),
            key_id: kmn_pki::ext::key_identifier(key.spki_der()).unwrap(),
            spki_der: key.spki_der().to_vec(),
            not_before: start,
            not_after: start + time::Duration::days(3650),
            signature_algorithm: key.signature_algorithm(),
        };
        let mut ca = TestCa {
            key,
            cert: vec![],
            info,
            server_cert: vec![],
            server_key: vec![],
        };
        let spki = ca.key.spki_der().to_vec();
        ca.cert = ca
            .issue(ProfileKind::Root, "TLS Test Root CA", &spki, vec![])
            .0;
        let (server, pkcs8) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        ca.server_cert = ca
            .issue(
                ProfileKind::Server,
                "localhost",
                server.spki_der(),
                vec![AltName::Dns("localhost".into())],
            )
            .0;
        ca.server_key = pkcs8.to_vec();
        ca
    }

    /// A certificate of `profile` (UserCard: clientAuth; Server: serverAuth) for `spki`.
    fn issue(
        &self,
        profile: ProfileKind,
        cn: &str,
        spki: &[u8],
        alt_names: Vec<AltName>,
    ) -> (Vec<u8>, CertSerial) {
        let serial = random_serial();
        let t = CertTemplate {
            profile,
            serial: serial.clone(),
            subject: dn(cn),
            spki_der: spki.to_vec(),
            not_before: self.info.not_before,
            not_after: self.info.not_before + time::Duration::days(365),
            policies: vec![],
            urls: Urls::default(),
            alt_names,
            hc_role: None,
        };
        let tbs = build_tbs(&t, &self.info).unwrap();
        let der = assemble(
            &tbs,
            self.key.signature_algorithm(),
            &self.key.sign(&tbs).unwrap(),
        );
        (der, serial)
    }

    /// A current CRL numbered `number` listing `revoked` (keyCompromise).
    fn crl(&self, number: i64, revoked: &[&CertSerial]) -> Vec<u8> {
        let this_update = now();
        self.crl_at(
            number,
            revoked,
            this_update,
            this_update + time::Duration::days(1),
        )
    }

    /// A CRL with the given thisUpdate and nextUpdate.
    fn crl_at(
        &self,
        number: i64,
        revoked: &[&CertSerial],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Vec<u8> {
        let mut entries: Vec<CrlEntry> = revoked
            .iter()
            .map(|s| {
                CrlEntry::new(
                    s.as_bytes(),
                    this_update.unix_timestamp() - 30,
                    RevocationReason::KeyCompromise,
                    None,
                )
                .unwrap()
            })
            .collect();
        entries.sort_by(|a, b| (a.serial().len(), a.serial()).cmp(&(b.serial().len(), b.serial())));
        let params = CrlParams {
            number: CrlNumber(number),
            this_update,
            next_update,
            previous: None,
        };
        build_and_sign(&params, &entries, &self.info, &self.key)
            .unwrap()
            .der
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from(self.cert.clone())).unwrap();
        roots
    }

    /// A server requiring a client certificate from this CA, checked against `crls`.
    fn server_config(
        &self,
        crls: &[Vec<u8>],
        versions: &[&'static SupportedProtocolVersion],
    ) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()), provider.clone())
                .with_crls(
                    crls.iter()
                        .map(|c| CertificateRevocationListDer::from(c.clone())),
                )
                .enforce_revocation_expiration()
                .build()
                .unwrap();
        Arc::new(
            ServerConfig::builder_with_provider(provider)
                .with_protocol_versions(versions)
                .unwrap()
                .with_client_cert_verifier(verifier)
                .with_single_cert(
                    vec![CertificateDer::from(self.server_cert.clone())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone())),
                )
                .unwrap(),
        )
    }
}

// ------------------------------------------------------------------ cards

/// A personalized card: a new token, a key generated on it, its certificate (and the CA
/// certificate) written to it, as the station does.
struct TlsCard {
    card: Card,
    id: Vec<u8>,
    cert: Vec<u8>,
    serial: CertSerial,
}

fn personalize(h: &Hsm, ca: &TestCa, label: &str, alg: CardKeyAlg) -> TlsCard {
    let card = new_card(h, label);
    let s = logged_in(h, &card);
    let id = vec![0x01];
    let key = generate_card_key(&s, alg, &id, "client auth").unwrap();
    check_card_key(&s, &key).unwrap();
    let (cert, serial) = ca.issue(
        ProfileKind::UserCard,
        "Taro Kumamoto",
        key.spki_der(),
        vec![],
    );
    write_certificate(
        &s,
        &id,
        "client auth",
        &cert,
        std::slice::from_ref(&ca.cert),
    )
    .unwrap();
    TlsCard {
        card,
        id,
        cert,
        serial,
    }
}

/// The private key on the card is still sensitive and not extractable, and its private
/// exponent (RSA) or value (EC) cannot be read.
fn assert_key_stays_on_card(h: &Hsm, c: &TlsCard) {
    let s = logged_in(h, &c.card);
    let key = find_card_key(&s, &c.id).unwrap();
    let facts = check_card_key(&s, &key).unwrap();
    assert!(facts.sensitive && facts.never_extractable && facts.local);
    let view = inspect_session(&s).unwrap();
    let private = view
        .objects
        .iter()
        .find(|o| o.class == "private_key" && o.id == c.id)
        .unwrap();
    assert_eq!(private.sensitive, Some(true));
    assert_eq!(private.extractable, Some(false));
    let secret = match key.alg() {
        CardKeyAlg::Rsa2048 => AttributeType::PrivateExponent,
        CardKeyAlg::P256 => AttributeType::Value,
    };
    let handle = s.with_session(|raw| {
        raw.find_objects(&[
            kmn_token::cryptoki::object::Attribute::Class(
                kmn_token::cryptoki::object::ObjectClass::PRIVATE_KEY,
            ),
            kmn_token::cryptoki::object::Attribute::Id(c.id.clone()),
        ])
        .unwrap()[0]
    });
    let info = s.with_session(|raw| raw.get_attribute_info(handle, &[secret]).unwrap());
    assert!(
        matches!(info.as_slice(), [AttributeInfo::Sensitive]),
        "{secret:?}: {info:?}"
    );
}

// ------------------------------------------------------------------ client and server

/// What the server saw of a successful handshake.
#[derive(Debug)]
struct ServerSeen {
    version: Option<ProtocolVersion>,
    peer: Vec<Vec<u8>>,
    line: String,
}

/// What the client saw.
#[derive(Debug)]
struct ClientSeen {
    version: Option<ProtocolVersion>,
    reply: String,
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// The rustls error inside an I/O error from a rustls stream.
fn tls_error(e: &io::Error) -> Option<rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>().cloned()
}

/// Serves one connection on 127.0.0.1: handshake, reads a line, answers `echo: <line>`.
fn serve_once(config: Arc<ServerConfig>) -> (u16, JoinHandle<io::Result<ServerSeen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = thread::spawn(move || {
        let deadline = Instant::now() + TIMEOUT;
        let sock = loop {
            match listener.accept() {
                Ok((sock, _)) => break sock,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(10))
                }
                Err(e) => return Err(e),
            }
        };
        sock.set_nonblocking(false)?;
        sock.set_read_timeout(Some(TIMEOUT))?;
        sock.set_write_timeout(Some(TIMEOUT))?;
        let conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, sock);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        let mut line = String::new();
        BufReader::new(&mut tls).read_line(&mut line)?;
        tls.write_all(format!("echo: {line}").as_bytes())?;
        tls.flush()?;
        tls.conn.send_close_notify();
        let _ = tls.conn.complete_io(&mut tls.sock);
        Ok(ServerSeen {
            version: tls.conn.protocol_version(),
            peer: tls
                .conn
                .peer_certificates()
                .unwrap_or_default()
                .iter()
                .map(|c| c.to_vec())
                .collect(),
            line,
        })
    });
    (port, handle)
}

/// Connects to `localhost:port`, sends a line and reads the answer.
fn connect(config: Arc<ClientConfig>, port: u16) -> io::Result<ClientSeen> {
    let sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(TIMEOUT))?;
    sock.set_write_timeout(Some(TIMEOUT))?;
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"hello from the card\n")?;
    tls.flush()?;
    let mut reply = String::new();
    BufReader::new(&mut tls).read_line(&mut reply)?;
    if reply.is_empty() {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(ClientSeen {
        version: tls.conn.protocol_version(),
        reply,
    })
}

/// One connection from `client` to a fresh server with `server`.
fn handshake(
    client: &Arc<ClientConfig>,
    server: Arc<ServerConfig>,
) -> (io::Result<ClientSeen>, io::Result<ServerSeen>) {
    let (port, srv) = serve_once(server);
    let c = connect(client.clone(), port);
    let s = srv.join().expect("server thread");
    (c, s)
}

/// Asserts a successful round trip at `version` with the card's certificate.
fn assert_round_trip(
    (c, s): (io::Result<ClientSeen>, io::Result<ServerSeen>),
    version: ProtocolVersion,
    client_cert: &[u8],
) {
    let s = s.unwrap_or_else(|e| panic!("server: {e:?} ({:?})", tls_error(&e)));
    let c = c.unwrap_or_else(|e| panic!("client: {e:?} ({:?})", tls_error(&e)));
    assert_eq!(c.version, Some(version));
    assert_eq!(s.version, Some(version));
    assert_eq!(s.peer.first().map(Vec::as_slice), Some(client_cert));
    assert_eq!(s.line, "hello from the card\n");
    assert_eq!(c.reply, "echo: hello from the card\n");
}

// ------------------------------------------------------------------ tests

#[test]
fn tls13_client_auth_with_key_on_token() {
    let h = need_hsm!();
    let ca = TestCa::new();
    let c = personalize(h, &ca, "tls13-rsa", CardKeyAlg::Rsa2048);

    let key = CardTlsKey::open(&h.module, c.card.slot, &c.card.pin, &c.id).unwrap();
    assert!(key.supports_tls13());
    assert_eq!(
        key.schemes(),
        [
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PKCS1_SHA256
        ]
    );
    assert_eq!(key.card_certificate().unwrap(), c.cert);
    assert_eq!(key.signatures(), 0);
    // An empty chain: the certificate stored on the card is presented.
    let client = Arc::new(client_config_with_key(&key, vec![], ca.roots(), &[&TLS13]).unwrap());
    let server = ca.server_config(&[ca.crl(1, &[])], &[&TLS13]);
    assert_round_trip(
        handshake(&client, server),
        ProtocolVersion::TLSv1_3,
        &c.cert,
    );
    assert_eq!(key.last_scheme(), Some(SignatureScheme::RSA_PSS_SHA256));
    assert_eq!(
        key.signatures(),
        1,
        "one CertificateVerify, signed on the card"
    );
    assert!(key.take_last_error().is_none());

    // TLS 1.2 with the same card: PSS is preferred there too.
    let client12 = Arc::new(client_config_with_key(&key, vec![], ca.roots(), &[&TLS12]).unwrap());
    let server = ca.server_config(&[ca.crl(1, &[])], rustls::ALL_VERSIONS);
    assert_round_trip(
        handshake(&client12, server),
        ProtocolVersion::TLSv1_2,
        &c.cert,
    );
    assert_eq!(key.last_scheme(), Some(SignatureScheme::RSA_PSS_SHA256));
    assert_eq!(key.signatures(), 2);

    // The key never left the card.
    assert_key_stays_on_card(h, &c);
}

#[test]
fn tls13_client_auth_fails_after_revocation() {
    let h = need_hsm!();
    let ca = TestCa::new();
    let c = personalize(h, &ca, "tls13-revoked", CardKeyAlg::Rsa2048);
    let client = Arc::new(
        client_config(
            &h.module,
            c.card.slot,
            &c.card.pin,
            &c.id,
            vec![CertificateDer::from(c.cert.clone())],
            ca.roots(),
            &[&TLS13],
        )
        .unwrap(),
    );
    // Another holder's certificate is revoked: the CRL is authoritative for this card and
    // does not list it, so the handshake succeeds (the CRL path itself works).
    let (_, other) = ca.issue(
        ProfileKind::UserCard,
        "Hanako Kumamoto",
        &c_spki(&c),
        vec![],
    );
    let server = ca.server_config(&[ca.crl(1, &[&other])], &[&TLS13]);
    assert_round_trip(
        handshake(&client, server),
        ProtocolVersion::TLSv1_3,
        &c.cert,
    );

    // The card's certificate is revoked: the server refuses it and tells the client.
    let server = ca.server_config(&[ca.crl(2, &[&other, &c.serial])], &[&TLS13]);
    let (client_result, server_result) = handshake(&client, server);
    let se = server_result.expect_err("the server must refuse a revoked certificate");
    assert_eq!(
        tls_error(&se),
        Some(rustls::Error::InvalidCertificate(CertificateError::Revoked)),
        "{se:?}"
    );
    let ce = client_result.expect_err("the client must see the refusal");
    assert_eq!(
        tls_error(&ce),
        Some(rustls::Error::AlertReceived(
            AlertDescription::CertificateRevoked
        )),
        "{ce:?}"
    );

    // A CRL past its nextUpdate is not trusted either (enforce_revocation_expiration),
    // even one that does not list the card.
    let stale = ca.crl_at(
        3,
        &[&other],
        now() - time::Duration::days(2),
        now() - time::Duration::days(1),
    );
    let server = ca.server_config(&[stale], &[&TLS13]);
    let (client_result, server_result) = handshake(&client, server);
    let se = server_result.expect_err("the server must refuse with an expired CRL");
    assert!(
        matches!(
            tls_error(&se),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::ExpiredRevocationList
                    | CertificateError::ExpiredRevocationListContext { .. }
            ))
        ),
        "{se:?}"
    );
    assert!(client_result.is_err());

    assert_key_stays_on_card(h, &c);
}

/// The card's public key (for a second certificate on the same key).
fn c_spki(c: &TlsCard) -> Vec<u8> {
    kmn_pki::parse::cert(&c.cert).unwrap().tbs.spki.to_vec()
}

#[test]
fn p256_card_over_tls13() {
    let h = need_hsm!();
    let ca = TestCa::new();
    let c = personalize(h, &ca, "tls13-p256", CardKeyAlg::P256);
    // A wrong PIN says so. (Checked while no session is open: PKCS#11 logins are per
    // token and application, and C_Login on a logged-in token answers
    // CKR_USER_ALREADY_LOGGED_IN without looking at the PIN.)
    let e =
        CardTlsKey::open(&h.module, c.card.slot, &SecretPin::new("00000000"), &c.id).unwrap_err();
    assert!(matches!(e, TokenError::WrongPin { .. }), "{e:?}");
    let key = CardTlsKey::open(&h.module, c.card.slot, &c.card.pin, &c.id).unwrap();
    assert!(key.supports_tls13());
    assert_eq!(key.schemes(), [SignatureScheme::ECDSA_NISTP256_SHA256]);
    let client = Arc::new(
        client_config_with_key(
            &key,
            vec![CertificateDer::from(c.cert.clone())],
            ca.roots(),
            rustls::ALL_VERSIONS,
        )
        .unwrap(),
    );
    let server = ca.server_config(&[ca.crl(1, &[])], rustls::ALL_VERSIONS);
    assert_round_trip(
        handshake(&client, server),
        ProtocolVersion::TLSv1_3,
        &c.cert,
    );
    assert_eq!(
        key.last_scheme(),
        Some(SignatureScheme::ECDSA_NISTP256_SHA256)
    );
    assert_eq!(key.signatures(), 1);
    assert_key_stays_on_card(h, &c);

    // A certificate that is not the card key's is refused before any connection.
    let e = client_config_with_key(
        &key,
        vec![CertificateDer::from(ca.server_cert.clone())],
        ca.roots(),
        rustls::ALL_VERSIONS,
    )
    .unwrap_err();
    assert!(matches!(e, TokenError::BadInput(_)), "{e:?}");
    assert!(e.to_string().contains("一致しません"), "{e}");
}

#[test]
fn legacy_card_without_pss_uses_tls12() {
    need_hsm!();
    // SoftHSM reads its configuration once per process: the legacy token runs in a child.
    let out = run_child(
        "legacy_tls_child",
        &[(CHILD_ENV, "legacy-tls"), (MECHS_ENV, NO_PSS)],
    );
    assert!(out.contains("legacy tls child ok"), "{out}");
}

#[test]
#[ignore = "child of legacy_card_without_pss_uses_tls12 (runs under a SoftHSM config without RSA-PSS)"]
fn legacy_tls_child() {
    if !is_child("legacy-tls") {
        return;
    }
    let h = need_hsm!();
    let ca = TestCa::new();
    let c = personalize(h, &ca, "legacy-tls", CardKeyAlg::Rsa2048);
    assert!(!h.module.mechanisms(c.card.slot).unwrap().rsa_pss);
    let key = CardTlsKey::open(&h.module, c.card.slot, &c.card.pin, &c.id).unwrap();
    assert!(!key.supports_tls13());
    assert_eq!(key.schemes(), [SignatureScheme::RSA_PKCS1_SHA256]);

    // TLS 1.2 and 1.3 allowed on both sides: the card's limits settle TLS 1.2.
    assert_eq!(
        key.protocol_versions(rustls::ALL_VERSIONS).unwrap(),
        [&TLS12]
    );
    let client =
        Arc::new(client_config_with_key(&key, vec![], ca.roots(), rustls::ALL_VERSIONS).unwrap());
    let server = ca.server_config(&[ca.crl(1, &[])], rustls::ALL_VERSIONS);
    assert_round_trip(
        handshake(&client, server),
        ProtocolVersion::TLSv1_2,
        &c.cert,
    );
    assert_eq!(key.last_scheme(), Some(SignatureScheme::RSA_PKCS1_SHA256));
    assert_eq!(key.signatures(), 1);

    // TLS 1.3 only: refused up front, with the reason and what to do.
    let e = client_config(
        &h.module,
        c.card.slot,
        &c.card.pin,
        &c.id,
        vec![],
        ca.roots(),
        &[&TLS13],
    )
    .unwrap_err();
    assert!(matches!(e, TokenError::Tls13NeedsPss), "{e:?}");
    assert_eq!(e.code(), "E_TOKEN_TLS13_NEEDS_PSS");
    assert!(
        e.to_string().contains("RSA-PSS") && e.to_string().contains("TLS 1.2"),
        "{e}"
    );

    // Why: forced into TLS 1.3 anyway, the card has no scheme to offer, the client sends
    // no certificate and the server refuses the handshake.
    let certified = rustls::sign::CertifiedKey::new(
        vec![CertificateDer::from(c.cert.clone())],
        Arc::new(key.clone()),
    );
    let forced = Arc::new(
        ClientConfig::builder_with_provider(
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .with_protocol_versions(&[&TLS13])
        .unwrap()
        .with_root_certificates(ca.roots())
        .with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified))),
    );
    let server = ca.server_config(&[ca.crl(1, &[])], rustls::ALL_VERSIONS);
    let (client_result, server_result) = handshake(&forced, server);
    let se = server_result.expect_err("no client certificate over TLS 1.3");
    assert_eq!(
        tls_error(&se),
        Some(rustls::Error::NoCertificatesPresented),
        "{se:?}"
    );
    assert!(client_result.is_err());
    assert_eq!(key.signatures(), 1, "nothing was signed for TLS 1.3");
    println!("legacy tls child ok");
}
