//! Accounts bind only a certificate of the right profile (issue 9 item 3, MHLW guideline
//! G2: possession and knowledge): center staff and auditors an operator certificate, a
//! desk the user card of one of that facility's desk staff (第17条), a station a station
//! certificate; revoked certificates never.

use kmn_app::AppError;
use kmn_app::actor::Role;
use kmn_app::ra::accounts::{self, KeyLocation, NewAccount};

use crate::api_fixture::{World, admin};

async fn sqlite_world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    let w = World::new(&url).await;
    std::mem::forget(dir);
    w
}

async fn add(
    w: &World,
    role: Role,
    cert: &[u8],
    facility: Option<&str>,
    holder: Option<&str>,
) -> Result<(), AppError> {
    accounts::add(
        &w.app,
        &admin(),
        NewAccount {
            role,
            display_name: "試験".into(),
            cert_der: cert.to_vec(),
            facility_code: facility.map(str::to_string),
            holder_id: holder.map(str::to_string),
        },
    )
    .await
    .map(|_| ())
}

fn refused(r: Result<(), AppError>, words: &str) {
    match r {
        Err(AppError::BadInput(m)) => assert!(m.contains(words), "{m}"),
        other => panic!("expected a refusal naming {words:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn issue9_accounts_bind_only_certificates_of_the_right_profile() {
    let w = sqlite_world().await;
    let station = w.certs["station"].clone();
    let operator = w.certs["operator"].clone();
    let desk_card = w.certs["desk_a"].clone();
    // Center staff and auditors: an operator certificate, never a card or a station's.
    for role in [Role::Operator, Role::Supervisor, Role::Auditor] {
        refused(
            add(&w, role, &desk_card, None, None).await,
            "担当者証明書の証明書が必要です（指定された証明書は利用者カードの証明書です）",
        );
        refused(
            add(&w, role, &station, None, None).await,
            "（指定された証明書は発行端末の証明書です）",
        );
    }
    // A station: a station certificate only.
    refused(
        add(&w, Role::Station, &operator, None, None).await,
        "発行端末のアカウントには発行端末の証明書が必要です",
    );
    // A desk: not an operator certificate.
    refused(
        add(&w, Role::FacilityDesk, &operator, Some(&w.fac_a), None).await,
        "利用者カードの証明書が必要です",
    );
    // A desk: a card of that facility's desk staff — not a nurse's card (第17条) …
    let (_, card_id, serial) = w.issued_card(&w.nurse_a).await;
    let nurse_cert = {
        let mut tx = w.app.store.read().await.unwrap();
        let c = tx.certificate(&serial).await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        c.der
    };
    refused(
        add(&w, Role::FacilityDesk, &nurse_cert, Some(&w.fac_a), None).await,
        "の窓口担当者として登録されていません（第17条）",
    );
    // … not the desk member's card at another facility …
    refused(
        add(&w, Role::FacilityDesk, &desk_card, Some(&w.fac_b), None).await,
        &format!(
            "のカードです。施設 {} の窓口アカウントには使えません",
            w.fac_b
        ),
    );
    // … and not with another holder named.
    refused(
        add(
            &w,
            Role::FacilityDesk,
            &desk_card,
            Some(&w.fac_a),
            Some(&w.nurse_a),
        )
        .await,
        &format!("（指定された利用者: {}）", w.nurse_a),
    );
    // A revoked certificate never.
    refused(
        add(&w, Role::Operator, &w.certs["revoked"], None, None).await,
        "失効しているため、アカウントに登録できません",
    );
    // Nothing of the refusals was written: only the fixture's accounts are there.
    let list = accounts::list_with_credentials(&w.app, &admin())
        .await
        .unwrap();
    assert_eq!(list.len(), 7, "{list:?}");
    // `kmn account list` names each account's certificate, its expiry and its key.
    for c in &list {
        let want = accounts::credential_profile(Role::parse(&c.account.role).unwrap());
        assert_eq!(c.cert_profile.as_deref(), Some(want.as_str()), "{c:?}");
        assert!(c.cert_not_after.unwrap() > 0);
        assert_eq!(c.key_location, Some(KeyLocation::Csr), "{c:?}");
    }
    let _ = card_id;
}
