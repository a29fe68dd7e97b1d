//! kmn-token against a real SoftHSM2 (the harness, one SoftHSM configuration per
//! process and child processes for other configurations, is in `common/mod.rs`).
//!
//! Without SoftHSM2 the tests skip loudly, except under `CI=true`, where they fail.

#[macro_use]
mod common;

use std::process::Command;

use common::*;
use kmn_pki::keys::{KeyAlgorithm, Signer, SoftwareKey};
use kmn_token::cryptoki::mechanism::Mechanism;
use kmn_token::cryptoki::object::{Attribute, KeyType, ObjectClass};
use kmn_token::*;

// ------------------------------------------------------------------ helpers

fn pkcs11_tool(h: &Hsm, args: &[&str]) -> String {
    let out = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(&h.module_path)
        .args(args)
        .env("SOFTHSM2_CONF", &h.conf)
        .output()
        .expect("run pkcs11-tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pkcs11-tool {args:?} failed:\n{text}");
    text
}

fn subject(cn: &str) -> Vec<u8> {
    use kmn_pki::oid;
    let mut dn = kmn_pki::name::DistinguishedName::default();
    dn.push(oid::AT_COUNTRY, "JP").unwrap();
    dn.push(oid::AT_ORGANIZATION, "Kumamoto Test Hospital")
        .unwrap();
    dn.push(oid::AT_COMMON_NAME, cn).unwrap();
    dn.to_der()
}

/// The RSAPublicKey / EC point inside a SubjectPublicKeyInfo (what aws-lc-rs verifies with).
fn spki_key_bits(spki: &[u8]) -> Vec<u8> {
    let seq = kmn_pki::derr::read_one(spki, 0x30).unwrap();
    let parts = kmn_pki::derr::children(seq.content).unwrap();
    parts[1].content[1..].to_vec()
}

/// for writing it to a card), and the CA certificate.
fn issue_for(spki: &[u8], cn: &str) -> (Vec<u8>, Vec<u8>) {
    use kmn_domain::ProfileKind;
    use kmn_pki::cert::{CertTemplate, IssuerInfo, Urls, assemble, build_tbs};
    let (ca, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let dn = |cn: &str| {
        let mut dn = kmn_pki::name::DistinguishedName::default();
        dn.push(kmn_pki::oid::AT_COUNTRY, "JP").unwrap();
        dn.push(kmn_pki::oid::AT_COMMON_NAME, cn).unwrap();
        dn
    };
    let info = IssuerInfo {
        subject_der: dn("Test CA").to_der(),
        key_id: kmn_pki::ext::key_identifier(ca.spki_der()).unwrap(),
        spki_der: ca.spki_der().to_vec(),
        not_before: now,
        not_after: now + time::Duration::days(3650),
        signature_algorithm: ca.signature_algorithm(),
    };
    let t = |profile, subject, spki: &[u8]| CertTemplate {
        profile,
        serial: random_serial(),
        subject,
        spki_der: spki.to_vec(),
        not_before: now,
        not_after: now + time::Duration::days(365),
        policies: vec![],
        urls: Urls::default(),
        alt_names: vec![],
        hc_role: None,
    };
    let sign = |tbs: Vec<u8>| assemble(&tbs, ca.signature_algorithm(), &ca.sign(&tbs).unwrap());
    let ca_cert =
        sign(build_tbs(&t(ProfileKind::Root, dn("Test CA"), ca.spki_der()), &info).unwrap());
    let user = sign(build_tbs(&t(ProfileKind::UserCard, dn(cn), spki), &info).unwrap());
    (user, ca_cert)
}

// ------------------------------------------------------------------ R1: keys on the card

#[test]
fn r1_key_generated_on_card_is_sensitive_and_never_extractable() {
    let h = need_hsm!();
    let c = new_card(h, "r1-keygen");
    let s = logged_in(h, &c);
    for (alg, id) in [
        (CardKeyAlg::Rsa2048, [0x01u8]),
        (CardKeyAlg::P256, [0x02u8]),
    ] {
        let key = generate_card_key(&s, alg, &id, &format!("card key {}", alg.as_str())).unwrap();
        let facts = check_card_key(&s, &key).unwrap();
        assert!(facts.local && facts.never_extractable && facts.sensitive);
        match alg {
            CardKeyAlg::Rsa2048 => {
                assert_eq!(facts.bits, 2048);
                assert!(facts.roca_checked);
                let kmn_pki::parse::KeyInfo::Rsa { bits, exponent, .. } =
                    kmn_pki::parse::key_info(key.spki_der()).unwrap()
                else {
                    panic!("RSA SPKI expected")
                };
                assert_eq!((bits, exponent), (2048, 65537));
            }
            CardKeyAlg::P256 => {
                assert_eq!(facts.bits, 256);
                assert_eq!(
                    kmn_pki::parse::key_info(key.spki_der()).unwrap(),
                    kmn_pki::parse::KeyInfo::Ec {
                        curve: "1.2.840.10045.3.1.7".into()
                    }
                );
            }
        }
        // The same key is found again by id.
        let again = find_card_key(&s, &id).unwrap();
        assert_eq!(again.spki_der(), key.spki_der());
        // A second key with the same id is refused.
        assert!(matches!(
            generate_card_key(&s, alg, &id, "dup"),
            Err(TokenError::BadInput(_))
        ));
    }
    // Logged in: the private keys and their attributes.
    let view = inspect_session(&s).unwrap();
    let privs: Vec<_> = view
        .objects
        .iter()
        .filter(|o| o.class == "private_key")
        .collect();
    assert_eq!(privs.len(), 2, "{view:#?}");
    for o in privs {
        assert_eq!(o.sensitive, Some(true));
        assert_eq!(o.extractable, Some(false));
        assert_eq!(o.never_extractable, Some(true));
        assert_eq!(o.local, Some(true));
    }
    drop(s);
    // Without a login: public keys only.
    let public = inspect(&h.module, c.slot).unwrap();
    assert_eq!(public.serial, c.serial);
    assert!(public.objects.iter().all(|o| o.class != "private_key"));
    assert_eq!(
        public
            .objects
            .iter()
            .filter(|o| o.class == "public_key")
            .count(),
        2
    );

    if !have_tool("pkcs11-tool") {
        skip("pkcs11-tool (opensc)");
        return;
    }
    let out = pkcs11_tool(
        h,
        &[
            "--token-label",
            &c.label,
            "--login",
            "--pin",
            c.pin.expose(),
            "--list-objects",
        ],
    );
    assert!(out.contains("Private Key Object; RSA"), "{out}");
    assert!(out.contains("Private Key Object; EC"), "{out}");
    // Each private key object: sensitive, never extractable, local, usage sign only.
    let blocks: Vec<&str> = out
        .split("Private Key Object;")
        .skip(1)
        .map(|b| b.split(" Object;").next().unwrap())
        .collect();
    assert_eq!(blocks.len(), 2, "{out}");
    for b in blocks {
        let line = |k: &str| {
            b.lines()
                .find(|l| l.trim_start().starts_with(k))
                .unwrap_or_default()
                .to_string()
        };
        let access = line("Access:");
        assert!(
            access.contains("sensitive")
                && access.contains("never extractable")
                && access.contains("local"),
            "{b}"
        );
        assert!(
            !access
                .replace("never extractable", "")
                .contains("extractable"),
            "{b}"
        );
        assert_eq!(line("Usage:").trim(), "Usage:      sign", "{b}");
    }
}

#[test]
fn r1_csr_signed_on_card_verifies() {
    let h = need_hsm!();
    let c = new_card(h, "r1-csr");
    let s = logged_in(h, &c);
    let dir = test_dir(h, "r1-csr");
    for (alg, id) in [
        (CardKeyAlg::Rsa2048, [0x11u8]),
        (CardKeyAlg::P256, [0x12u8]),
    ] {
        let key = generate_card_key(&s, alg, &id, "card key").unwrap();
        let subj = subject("Taro Kumamoto");
        let csr = build_csr_on_card(&s, &key, &subj).unwrap();
        let v = kmn_pki::csr::parse_and_verify(&csr).unwrap();
        assert_eq!(v.spki_der, key.spki_der());
        assert_eq!(v.subject_der, subj);
        if have_tool("openssl") {
            let p = write(&dir, &format!("{}.csr.der", alg.as_str()), &csr);
            let out = Command::new("openssl")
                .args(["req", "-inform", "DER", "-noout", "-verify", "-in"])
                .arg(&p)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stderr).to_string()
                + &String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success() && text.contains("verify OK"), "{text}");
        }
    }
    // Without a login the card refuses to sign, and says so.
    drop(s);
    let s = CardSession::open(&h.module, c.slot).unwrap();
    let pub_only = inspect(&h.module, c.slot).unwrap();
    assert!(!pub_only.objects.is_empty());
    let e = find_card_key(&s, &[0x11]).unwrap_err();
    assert!(matches!(e, TokenError::KeyNotFound { .. }), "{e:?}");
}

fn pkcs8_rsa_components(pkcs8: &[u8]) -> Vec<Vec<u8>> {
    use kmn_pki::derr::{children, read_one};
    let outer = read_one(pkcs8, 0x30).unwrap();
    let f = children(outer.content).unwrap();
    let rsa = read_one(f[2].content, 0x30).unwrap();
    children(rsa.content)
        .unwrap()
        .iter()
        .map(|i| {
            let c = i.content;
            if c.first() == Some(&0) && c.len() > 1 {
                c[1..].to_vec()
            } else {
                c.to_vec()
            }
        })
        .collect()
}

#[test]
fn r1_imported_extractable_key_fails_the_checks() {
    let h = need_hsm!();
    let c = new_card(h, "r1-badkeys");
    let s = logged_in(h, &c);

    // 1. A key made off the card and imported (C_CreateObject): CKA_LOCAL is false.
    let (_, pkcs8) = SoftwareKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let p = pkcs8_rsa_components(&pkcs8);
    let (n, e, d, p1, q, dp, dq, qi) = (&p[1], &p[2], &p[3], &p[4], &p[5], &p[6], &p[7], &p[8]);
    let id = vec![0x21];
    s.with_session(|raw| {
        raw.create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Id(id.clone()),
            Attribute::Modulus(n.clone()),
            Attribute::PublicExponent(e.clone()),
            Attribute::PrivateExponent(d.clone()),
            Attribute::Prime1(p1.clone()),
            Attribute::Prime2(q.clone()),
            Attribute::Exponent1(dp.clone()),
            Attribute::Exponent2(dq.clone()),
            Attribute::Coefficient(qi.clone()),
        ])
        .unwrap();
        raw.create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::Id(id.clone()),
            Attribute::Modulus(n.clone()),
            Attribute::PublicExponent(e.clone()),
        ])
        .unwrap();
    });
    let imported = find_card_key(&s, &id).unwrap();
    let err = check_card_key(&s, &imported).unwrap_err();
    assert!(matches!(err, KeyCheckError::NotLocal), "{err:?}");
    assert_eq!(err.code(), "E_KEYCHECK_NOT_LOCAL");
    assert!(err.to_string().contains("CKA_LOCAL"), "{err}");
    assert!(
        err.to_string().contains("カード内で生成されていません"),
        "{err}"
    );

    // 2. Generated on the card but extractable: CKA_NEVER_EXTRACTABLE is false.
    // 3. Generated on the card but not sensitive.
    for (id, extractable, sensitive, want) in [
        (0x22u8, true, true, "CKA_NEVER_EXTRACTABLE"),
        (0x23u8, false, false, "CKA_SENSITIVE"),
    ] {
        s.with_session(|raw| {
            raw.generate_key_pair(
                &Mechanism::RsaPkcsKeyPairGen,
                &[
                    Attribute::Token(true),
                    Attribute::Id(vec![id]),
                    Attribute::ModulusBits(2048u64.into()),
                    Attribute::PublicExponent(vec![1, 0, 1]),
                ],
                &[
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(sensitive),
                    Attribute::Extractable(extractable),
                    Attribute::Sign(true),
                    Attribute::Id(vec![id]),
                ],
            )
            .unwrap();
        });
        let key = find_card_key(&s, &[id]).unwrap();
        let err = check_card_key(&s, &key).unwrap_err();
        assert!(err.to_string().contains(want), "{want}: {err}");
        assert!(err.code().starts_with("E_KEYCHECK_"), "{err:?}");
    }

    // 4. An RSA-1024 key with e = 3 generated on the card: size first.
    s.with_session(|raw| {
        raw.generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::Id(vec![0x24]),
                Attribute::ModulusBits(1024u64.into()),
                Attribute::PublicExponent(vec![3]),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Id(vec![0x24]),
            ],
        )
        .unwrap();
    });
    let key = find_card_key(&s, &[0x24]).unwrap();
    let err = check_card_key(&s, &key).unwrap_err();
    assert!(
        matches!(err, KeyCheckError::RsaTooSmall { bits: 1024 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("1024"), "{err}");
}

// ------------------------------------------------------------------ 第9条: PINs

#[test]
fn art9_change_pin_then_old_pin_fails() {
    let h = need_hsm!();
    let c = new_card(h, "art9-change");
    let s = logged_in(h, &c);
    let new = SecretPin::new("24681357");
    // Wrong old PIN.
    let e = change_pin(&s, &SecretPin::new("00000000"), &new).unwrap_err();
    assert!(matches!(e, TokenError::WrongPin { .. }), "{e:?}");
    // Too short for the token.
    let e = change_pin(&s, &c.pin, &SecretPin::new("12")).unwrap_err();
    assert!(matches!(e, TokenError::PinInvalid { min: 4, .. }), "{e:?}");
    assert!(e.to_string().contains("4桁以上"), "{e}");
    change_pin(&s, &c.pin, &new).unwrap();
    logout(&s);
    let e = login_user(&s, &c.pin).unwrap_err();
    assert!(matches!(e, TokenError::WrongPin { .. }), "{e:?}");
    assert_eq!(e.code(), "E_TOKEN_WRONG_PIN");
    assert!(e.to_string().starts_with("PINが違います"), "{e}");
    login_user(&s, &new).unwrap();
}

#[test]
fn art9_unlock_with_so_pin_sets_new_pin() {
    let h = need_hsm!();
    let c = new_card(h, "art9-unlock");
    {
        let s = CardSession::open(&h.module, c.slot).unwrap();
        // The holder forgot the PIN (SoftHSM never locks; real cards answer
        // CKR_PIN_LOCKED, covered by the fault-point test).
        assert!(matches!(
            login_user(&s, &SecretPin::new("99999999")),
            Err(TokenError::WrongPin { .. })
        ));
    }
    // The support center re-derives the SO PIN from the serial and sets a new PIN.
    let so = deriver()
        .so_pin(&token_serial(&h.module, c.slot).unwrap())
        .unwrap();
    assert_eq!(so, c.so);
    let new = SecretPin::random_digits(8).unwrap();
    unlock_with_so(&h.module, c.slot, &so, &new).unwrap();
    let s = CardSession::open(&h.module, c.slot).unwrap();
    assert!(matches!(
        login_user(&s, &c.pin),
        Err(TokenError::WrongPin { .. })
    ));
    login_user(&s, &new).unwrap();
}

#[test]
fn art9_wrong_so_pin_is_refused() {
    let h = need_hsm!();
    let c = new_card(h, "art9-wrong-so");
    let wrong = SecretPin::new("0000000000000000");
    let new = SecretPin::new("11223344");
    for e in [
        unlock_with_so(&h.module, c.slot, &wrong, &new).unwrap_err(),
        set_initial_user_pin(&h.module, c.slot, &wrong, &new).unwrap_err(),
        wipe(&h.module, c.slot, &wrong, "art9-wrong-so").unwrap_err(),
    ] {
        assert!(matches!(e, TokenError::WrongSoPin), "{e:?}");
        assert_eq!(e.code(), "E_TOKEN_WRONG_SO_PIN");
        assert!(e.to_string().contains("SO PIN"), "{e}");
    }
    // A master secret from another center derives another SO PIN.
    let other = SoPinDeriver::new(vec![0x55; 32])
        .unwrap()
        .so_pin(&c.serial)
        .unwrap();
    assert!(matches!(
        unlock_with_so(&h.module, c.slot, &other, &new),
        Err(TokenError::WrongSoPin)
    ));
    // Nothing changed: the user PIN still works.
    let s = CardSession::open(&h.module, c.slot).unwrap();
    login_user(&s, &c.pin).unwrap();
}

// ------------------------------------------------------------------ signatures

#[test]
fn rsa_pss_signature_verifies() {
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
        UnparsedPublicKey,
    };
    let h = need_hsm!();
    let c = new_card(h, "rsa-pss");
    let s = logged_in(h, &c);
    let msg = b"TLS 1.3, client CertificateVerify";
    let rsa = generate_card_key(&s, CardKeyAlg::Rsa2048, &[0x31], "rsa").unwrap();
    let signer = CardSigner::new(&s, &rsa).unwrap();
    assert!(signer.supports_rsa_pss());
    let pub_rsa = spki_key_bits(rsa.spki_der());
    let pss = signer.sign_rsa_pss_sha256(msg).unwrap();
    UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, &pub_rsa)
        .verify(msg, &pss)
        .expect("PSS verifies");
    // PSS is randomised: two signatures differ.
    assert_ne!(pss, signer.sign_rsa_pss_sha256(msg).unwrap());
    let pkcs1 = signer.sign_rsa_pkcs1_sha256(msg).unwrap();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &pub_rsa)
        .verify(msg, &pkcs1)
        .expect("PKCS#1 verifies");
    assert_eq!(Signer::sign(&signer, msg).unwrap(), pkcs1);

    let ec = generate_card_key(&s, CardKeyAlg::P256, &[0x32], "ec").unwrap();
    let ecs = CardSigner::new(&s, &ec).unwrap();
    assert!(!ecs.supports_rsa_pss());
    let sig = ecs.sign_ecdsa_sha256(msg).unwrap();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, spki_key_bits(ec.spki_der()))
        .verify(msg, &sig)
        .expect("ECDSA verifies");
    assert!(matches!(
        ecs.sign_rsa_pss_sha256(msg),
        Err(TokenError::BadInput(_))
    ));
}

#[test]
fn pkcs11_tool_sign_verifies_with_openssl() {
    let h = need_hsm!();
    need_tool!("pkcs11-tool");
    need_tool!("openssl");
    let c = new_card(h, "p11tool-sign");
    let key = {
        let s = logged_in(h, &c);
        generate_card_key(&s, CardKeyAlg::Rsa2048, &[0x41, 0x42], "tool key").unwrap()
    };
    let dir = test_dir(h, "p11tool-sign");
    let data = write(&dir, "data.txt", "第9条 PIN mailer text\n");
    let sig = dir.join("data.sig");
    pkcs11_tool(
        h,
        &[
            "--token-label",
            &c.label,
            "--login",
            "--pin",
            c.pin.expose(),
            "--sign",
            "-m",
            "SHA256-RSA-PKCS",
            "--id",
            "4142",
            "-i",
            data.to_str().unwrap(),
            "-o",
            sig.to_str().unwrap(),
        ],
    );
    let pem = write(
        &dir,
        "pub.pem",
        kmn_pki::cert::pem_encode("PUBLIC KEY", key.spki_der()),
    );
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&pem)
        .arg("-signature")
        .arg(&sig)
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("Verified OK"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn legacy_card_without_pss() {
    let h = need_hsm!();
    // The token-level view through pkcs11-tool under the legacy configuration.
    if have_tool("pkcs11-tool") {
        let dir = test_dir(h, "legacy-tool");
        std::fs::create_dir_all(dir.join("tokens")).unwrap();
        let conf = write(
            &dir,
            "softhsm2.conf",
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.mechanisms = {NO_PSS}\n",
                dir.join("tokens").display()
            ),
        );
        let out = Command::new("pkcs11-tool")
            .arg("--module")
            .arg(&h.module_path)
            .arg("-M")
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("RSA-PKCS,"), "{text}");
        assert!(!text.contains("PSS"), "{text}");
    } else {
        skip("pkcs11-tool (opensc)");
    }
    // Our API under that configuration, in a child process (one config per process).
    let out = run_child(
        "legacy_card_child",
        &[(CHILD_ENV, "legacy"), (MECHS_ENV, NO_PSS)],
    );
    assert!(out.contains("legacy child ok"), "{out}");
}

#[test]
#[ignore = "child of legacy_card_without_pss (runs under a SoftHSM config without RSA-PSS)"]
fn legacy_card_child() {
    if !is_child("legacy") {
        return;
    }
    let h = need_hsm!();
    let c = new_card(h, "legacy");
    let info = h.module.slots_with_tokens().unwrap();
    let me = info.iter().find(|i| i.label == "legacy").unwrap();
    assert!(me.mechanisms.rsa_pkcs && me.mechanisms.ecdsa);
    assert!(!me.mechanisms.rsa_pss, "{me:?}");
    let s = logged_in(h, &c);
    let key = generate_card_key(&s, CardKeyAlg::Rsa2048, &[0x51], "legacy").unwrap();
    let signer = CardSigner::new(&s, &key).unwrap();
    assert!(!signer.supports_rsa_pss());
    let e = signer.sign_rsa_pss_sha256(b"hello").unwrap_err();
    assert!(matches!(e, TokenError::Unsupported(_)), "{e:?}");
    assert_eq!(e.code(), "E_TOKEN_UNSUPPORTED");
    assert!(e.to_string().contains("RSA-PSS"), "{e}");
    // TLS 1.2 rsa_pkcs1_sha256 still works.
    let sig = signer.sign_rsa_pkcs1_sha256(b"hello").unwrap();
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        spki_key_bits(key.spki_der()),
    )
    .verify(b"hello", &sig)
    .unwrap();
    // Asking the token directly is refused too (not only our pre-check).
    let direct = s.with_session(|raw| {
        raw.sign(
            &Mechanism::RsaPkcsPss(kmn_token::cryptoki::mechanism::rsa::PkcsPssParams {
                hash_alg: kmn_token::cryptoki::mechanism::MechanismType::SHA256,
                mgf: kmn_token::cryptoki::mechanism::rsa::PkcsMgfType::MGF1_SHA256,
                s_len: 32u64.into(),
            }),
            key_private_handle(raw, &[0x51]),
            &[0u8; 32],
        )
    });
    assert!(
        direct.is_err(),
        "SoftHSM signed PSS although the mechanism is disabled"
    );
    println!("legacy child ok");
}

fn key_private_handle(
    raw: &kmn_token::cryptoki::session::Session,
    id: &[u8],
) -> kmn_token::cryptoki::object::ObjectHandle {
    raw.find_objects(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Id(id.to_vec()),
    ])
    .unwrap()[0]
}

// ------------------------------------------------------------------ certificates, wipe

#[test]
fn wipe_returns_card_to_blank() {
    let h = need_hsm!();
    let c = new_card(h, "wipe");
    {
        let s = logged_in(h, &c);
        let key = generate_card_key(&s, CardKeyAlg::P256, &[0x61], "wipe key").unwrap();
        check_card_key(&s, &key).unwrap();
        let (cert, ca) = issue_for(key.spki_der(), "Hanako Kumamoto");
        write_certificate(&s, &[0x61], "wipe key", &cert, std::slice::from_ref(&ca)).unwrap();
        // Writing again replaces the card certificate and does not duplicate the CA.
        write_certificate(&s, &[0x61], "wipe key", &cert, std::slice::from_ref(&ca)).unwrap();
        let view = inspect(&h.module, c.slot).unwrap();
        assert_eq!(view.certificates.len(), 2, "{view:#?}");
        assert!(view.certificates.contains(&cert) && view.certificates.contains(&ca));
        let certs: Vec<_> = view
            .objects
            .iter()
            .filter(|o| o.class == "certificate")
            .collect();
        assert!(
            certs
                .iter()
                .any(|o| o.id == [0x61] && o.label == "wipe key")
        );
        assert!(certs.iter().any(|o| o.label == "wipe key CA1"));
        if have_tool("pkcs11-tool") {
            let out = pkcs11_tool(
                h,
                &[
                    "--token-label",
                    &c.label,
                    "--list-objects",
                    "--type",
                    "cert",
                ],
            );
            assert_eq!(
                out.matches("Certificate Object; type = X.509 cert").count(),
                2,
                "{out}"
            );
        }
    }
    let before = inspect(&h.module, c.slot).unwrap();
    assert!(before.flags.user_pin_initialized);
    wipe(&h.module, c.slot, &c.so, "wiped-card").unwrap();
    let after = inspect(&h.module, c.slot).unwrap();
    assert_eq!(after.label, "wiped-card");
    assert_eq!(
        after.serial, before.serial,
        "SoftHSM keeps the serial, so the SO PIN still derives"
    );
    assert!(after.flags.token_initialized);
    assert!(!after.flags.user_pin_initialized);
    assert!(
        after.objects.is_empty() && after.certificates.is_empty(),
        "{after:#?}"
    );
    let s = CardSession::open(&h.module, c.slot).unwrap();
    let e = login_user(&s, &c.pin).unwrap_err();
    assert!(matches!(e, TokenError::UserPinNotInitialized), "{e:?}");
    drop(s);
    // The same SO PIN personalizes it again.
    set_initial_user_pin(&h.module, c.slot, &c.so, &c.pin).unwrap();
    let s = logged_in(h, &c);
    assert!(inspect_session(&s).unwrap().objects.is_empty());
}

// ------------------------------------------------------------------ CA keys in an HSM

#[test]
fn hsm_signer_signs_a_certificate_verifiable_by_openssl() {
    use kmn_domain::ProfileKind;
    use kmn_pki::cert::{CertTemplate, IssuerInfo, Urls, prepare, sign};
    let h = need_hsm!();
    let c = new_card(h, "hsm-ca");
    let dir = test_dir(h, "hsm-ca");
    for alg in [
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Rsa3072,
    ] {
        let label = format!("kmn-root-{}", alg.as_str());
        let signer = HsmSigner::generate(&h.module, c.slot, &c.pin, alg, &label).unwrap();
        assert_eq!(signer.algorithm(), alg);
        assert!(
            HsmSigner::generate(&h.module, c.slot, &c.pin, alg, &label).is_err(),
            "label reuse"
        );

        let now = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap();
        let mut dn = kmn_pki::name::DistinguishedName::default();
        dn.push(kmn_pki::oid::AT_COUNTRY, "JP").unwrap();
        dn.push(kmn_pki::oid::AT_ORGANIZATION, "Kumamoto Medical Network")
            .unwrap();
        dn.push(
            kmn_pki::oid::AT_COMMON_NAME,
            &format!("HSM Root {}", alg.as_str()),
        )
        .unwrap();
        let info = IssuerInfo {
            subject_der: dn.to_der(),
            key_id: kmn_pki::ext::key_identifier(signer.spki_der()).unwrap(),
            spki_der: signer.spki_der().to_vec(),
            not_before: now,
            not_after: kmn_domain::cert::add_years(now, 20) - time::Duration::seconds(1),
            signature_algorithm: signer.signature_algorithm(),
        };
        let t = CertTemplate {
            profile: ProfileKind::Root,
            serial: random_serial(),
            subject: dn,
            spki_der: signer.spki_der().to_vec(),
            not_before: info.not_before,
            not_after: info.not_after,
            policies: vec![],
            urls: Urls::default(),
            alt_names: vec![],
            hc_role: None,
        };
        let linted = prepare(&t, &info, &kmn_pki::lint::Expectations::default()).unwrap();
        let der = sign(linted, &signer).unwrap();
        let parsed = kmn_pki::parse::cert(&der).unwrap();
        kmn_pki::csr::verify_signature(
            parsed.tbs.spki,
            parsed.signature_alg,
            parsed.tbs.raw,
            parsed.signature,
        )
        .unwrap();
        if have_tool("openssl") {
            let pem = write(&dir, &format!("{label}.pem"), kmn_pki::cert::to_pem(&der));
            let out = Command::new("openssl")
                .args(["verify", "-check_ss_sig", "-CAfile"])
                .arg(&pem)
                .arg(&pem)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && text.contains(": OK"),
                "{alg}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        // Opened again by labels: the same key.
        let reopened = HsmSigner::open(&h.module, "hsm-ca", &label, &c.pin).unwrap();
        assert_eq!(reopened.spki_der(), signer.spki_der());
        assert_eq!(reopened.algorithm(), alg);
    }

    // Several threads sign at once through the pool.
    let signer =
        std::sync::Arc::new(HsmSigner::open(&h.module, "hsm-ca", "kmn-root-p256", &c.pin).unwrap());
    let alg_id = signer.signature_algorithm().algorithm_identifier();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let signer = signer.clone();
            let alg_id = alg_id.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let msg = format!("thread {t} message {i}");
                    let sig = signer.sign(msg.as_bytes()).unwrap();
                    kmn_pki::csr::verify_signature(
                        signer.spki_der(),
                        &alg_id,
                        msg.as_bytes(),
                        &sig,
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in handles {
        t.join().unwrap();
    }

    // The login is lost behind the signer's back (C_Logout from another session of this
    // process logs every session out): the next signature is retried with a fresh
    // session and succeeds.
    let other = CardSession::open(&h.module, c.slot).unwrap();
    login_user(&other, &c.pin).unwrap();
    logout(&other);
    drop(other);
    let retries = signer.retries();
    let sig = signer.sign(b"after logout").unwrap();
    assert_eq!(signer.retries(), retries + 1, "the retry path ran");
    kmn_pki::csr::verify_signature(signer.spki_der(), &alg_id, b"after logout", &sig).unwrap();
}

#[test]
fn hsm_signer_reports_missing_token_clearly() {
    let h = need_hsm!();
    let c = new_card(h, "hsm-missing");
    // No such token.
    let e = HsmSigner::open(&h.module, "kmn-no-such-hsm", "root", &c.pin).unwrap_err();
    assert!(matches!(e, TokenError::NoSuchToken { .. }), "{e:?}");
    assert_eq!(e.code(), "E_TOKEN_NOT_FOUND");
    assert!(
        e.message_en().contains("kmn-no-such-hsm"),
        "{}",
        e.message_en()
    );
    // No such key.
    let e = HsmSigner::open(&h.module, "hsm-missing", "kmn-no-such-key", &c.pin).unwrap_err();
    assert!(matches!(e, TokenError::KeyNotFound { .. }), "{e:?}");
    assert!(
        e.message_en().contains("kmn-no-such-key"),
        "{}",
        e.message_en()
    );
    // Wrong PIN.
    let e = HsmSigner::open(&h.module, "hsm-missing", "root", &SecretPin::new("0000")).unwrap_err();
    assert!(matches!(e, TokenError::WrongPin { .. }), "{e:?}");

    // The token disappears while the signer is in use (deleted by another process, the
    // closest SoftHSM comes to pulling an HSM's cable): a clear error after one retry.
    let signer =
        HsmSigner::generate(&h.module, c.slot, &c.pin, KeyAlgorithm::P256, "root").unwrap();
    signer.sign(b"before").unwrap();
    if !have_tool("softhsm2-util") {
        skip("softhsm2-util");
        return;
    }
    let out = Command::new("softhsm2-util")
        .args(["--delete-token", "--token", "hsm-missing"])
        .env("SOFTHSM2_CONF", &h.conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = signer.try_sign(b"after").unwrap_err();
    assert_eq!(signer.retries(), 1);
    assert!(matches!(e, TokenError::NoSuchToken { .. }), "{e:?}");
    assert!(e.message_en().contains("hsm-missing"), "{}", e.message_en());
    let pki = signer.sign(b"after").unwrap_err().to_string();
    assert!(
        pki.contains("hsm-missing") && pki.contains("E_TOKEN_NOT_FOUND"),
        "{pki}"
    );
    // The other tokens are still listed.
    assert!(h.module.find_slot(Some("hsm-missing"), None).is_err());
    assert!(!h.module.slots_with_tokens().unwrap().is_empty());
}

// ------------------------------------------------------------------ fault points

#[cfg(feature = "fault-points")]
#[test]
fn fault_points_simulate_removal_after_keygen_and_pin_lock() {
    need_hsm!();
    let out = run_child(
        "fault_child",
        &[
            (CHILD_ENV, "fault"),
            (FAULT_ENV, "after_keygen,login_user=pin_locked"),
        ],
    );
    assert!(out.contains("fault child ok"), "{out}");
}

#[cfg(feature = "fault-points")]
#[test]
#[ignore = "child of fault_points_simulate_removal_after_keygen_and_pin_lock (KMN_FAULT is process-wide)"]
fn fault_child() {
    if !is_child("fault") {
        return;
    }
    let h = need_hsm!();
    let c = new_card(h, "fault");
    // login_user=pin_locked: the card answers CKR_PIN_LOCKED.
    let s = CardSession::open(&h.module, c.slot).unwrap();
    let e = login_user(&s, &c.pin).unwrap_err();
    assert!(matches!(e, TokenError::PinLocked), "{e:?}");
    assert_eq!(e.code(), "E_TOKEN_PIN_LOCKED");
    assert!(e.to_string().contains("ロックされています"), "{e}");
    assert!(matches!(
        fault_point("login_user"),
        Err(TokenError::PinLocked)
    ));
    assert!(fault_point("not_armed").is_ok());
    drop(s);

    // Log in without the fault point (the raw session), then: removed after keygen.
    let s = CardSession::open(&h.module, c.slot).unwrap();
    s.with_session(|raw| {
        raw.login(
            kmn_token::cryptoki::session::UserType::User,
            Some(&kmn_token::cryptoki::types::AuthPin::from(c.pin.expose())),
        )
        .unwrap()
    });
    let e = generate_card_key(&s, CardKeyAlg::P256, &[0x71], "fault").unwrap_err();
    assert!(matches!(e, TokenError::TokenRemoved), "{e:?}");
    assert_eq!(
        e.to_string(),
        "カードが取り外されました。カードを差し直してやり直してください"
    );
    // The station rolls back: the half-personalized card is wiped.
    assert!(
        !inspect_session(&s).unwrap().objects.is_empty(),
        "the key was made before the fault"
    );
    drop(s);
    wipe(&h.module, c.slot, &c.so, "fault-rolled-back").unwrap();
    let after = inspect(&h.module, c.slot).unwrap();
    assert!(after.objects.is_empty() && !after.flags.user_pin_initialized);
    println!("fault child ok");
}

#[test]
fn art9_pin_pad_change_is_refused_on_a_reader_without_a_pad() {
    let h = need_hsm!();
    let c = new_card(h, "art9-no-pad");
    assert!(!kmn_token::has_pin_pad(&h.module, c.slot).unwrap());
    let s = CardSession::open(&h.module, c.slot).unwrap();
    let e = kmn_token::change_pin_on_pin_pad(&s).unwrap_err();
    assert!(e.to_string().contains("PINパッドがありません"), "{e}");
    // The PIN is unchanged.
    login_user(&s, &c.pin).unwrap();
}

#[test]
fn issue8_a_pin_the_hsm_refused_is_never_offered_again() {
    let h = need_hsm!();
    let c = new_card(h, "hsm-refused");
    drop(HsmSigner::generate(&h.module, c.slot, &c.pin, KeyAlgorithm::P256, "ca").unwrap());
    let guess = SecretPin::new("11223344");
    let e = HsmSigner::open(&h.module, "hsm-refused", "ca", &guess).unwrap_err();
    assert!(matches!(e, TokenError::WrongPin { .. }), "{e:?}");
    // The token's PIN now is that PIN, so a second login with it would succeed: this
    // process does not offer the PIN the token refused again (each try costs one of the
    // token's PIN tries; a check or a retry loop would otherwise lock it).
    set_initial_user_pin(&h.module, c.slot, &c.so, &guess).unwrap();
    let e = HsmSigner::open(&h.module, "hsm-refused", "ca", &guess).unwrap_err();
    assert!(matches!(e, TokenError::WrongPin { .. }), "{e:?}");
    // Another PIN (a corrected PIN file) is tried.
    let other = SecretPin::new("55667788");
    set_initial_user_pin(&h.module, c.slot, &c.so, &other).unwrap();
    HsmSigner::open(&h.module, "hsm-refused", "ca", &other).unwrap();
}
