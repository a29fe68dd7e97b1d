//! The card (利用者カード) lifecycle (DESIGN §3, after Dogtag TPS, extended by the terms).
//!
//! The allowed transitions are data: one table, [`TRANSITIONS`], with a unit test per
//! row. Each transition returns the effects the app layer carries out.
//!
//! ```text
//! Blank ─Personalize→ Personalized ─Ship→ Shipped ─ConfirmReceipt→ Received ─HandOver→
//!   HandedOver ─Activate→ Active ⇄ Suspended;  HandedOver ─Suspend→ Suspended
//! HandedOver|Active|Suspended ─Expire→ Expired;  ─ReportDamaged→ Damaged
//! HandedOver|Active|Suspended|Damaged|Expired ─RequestReturn→ ReturnRequested ─ConfirmReturn→
//!   Returned ─Destroy→ Destroyed
//! Shipped|Received|HandedOver|Active|Suspended|ReturnRequested ─ReportLost→ Lost
//! Shipped ─LostInPost→ Lost;  Lost|Damaged ─ConfirmReturn→ Returned
//! (almost) any ─Terminate→ Terminated
//! ```
//!
//! Decisions beyond the brief:
//! * **Lost is not final**: a lost card that turns up is sent back (`ConfirmReturn`) and
//!   destroyed, so its destruction is on record (第15条); its certificate stays revoked.
//! * **Returned cards are not terminated**: at the end of the service (第27条) a card that
//!   is already back at the center still has to be destroyed and recorded (第15条), so
//!   `Terminate` is allowed from every non-final state except `Returned`.
//! * A `Personalized` card spoiled at the station is destroyed there (`Destroy`).
//! * **A handed-over card is in use**: nothing but the demo's `DemoActivate` and a
//!   resumed suspension reach `Active` (the holder's first use is not observed), so
//!   `HandedOver` takes the same steps as `Active` (suspension, damage, return, expiry).

use serde::{Deserialize, Serialize};

use crate::enum_codes::coded_enum;
use crate::facility::FacilityCode;
use crate::notice::NoticeKind;
use crate::person::HolderId;
use crate::revocation::{EmergencyCause, RevocationGrounds};

coded_enum! {
    /// Where a card is (DESIGN §3).
    pub enum CardState: "カードの状態" {
        /// A blank card in stock.
        Blank = "blank" => "未発行",
        /// Keys generated and certificate written at the station (第7条).
        Personalized = "personalized" => "発行済み",
        /// Sent to the facility (第7条).
        Shipped = "shipped" => "発送済み",
        /// The facility's receipt is confirmed (第8条1).
        Received = "received" => "受領済み",
        /// Handed to the holder by the facility (第8条1).
        HandedOver = "handed_over" => "交付済み",
        /// In use.
        Active = "active" => "利用中",
        /// Temporarily suspended.
        Suspended = "suspended" => "利用停止中",
        /// Lost or stolen; its certificate is revoked (第11条).
        Lost = "lost" => "紛失",
        /// Damaged (第3条5, 第14条2).
        Damaged = "damaged" => "破損",
        /// The facility has been asked to return it (第13条, 第15条).
        ReturnRequested = "return_requested" => "返却依頼中",
        /// Back at the center (第15条).
        Returned = "returned" => "返却済み",
        /// Destroyed, and the destruction recorded (第15条). Final.
        Destroyed = "destroyed" => "廃棄済み",
        /// Past its 3 or 5 years (第10条3).
        Expired = "expired" => "有効期限切れ",
        /// The service ended (第27条). Final.
        Terminated = "terminated" => "利用終了",
    }
}

coded_enum! {
    /// Something that happens to a card.
    pub enum CardEvent: "カードの操作" {
        /// The station generates the key on the card and writes the certificate (第7条).
        Personalize = "personalize" => "発行（カードへの書込み）",
        /// Demo fulfilment from a CSR: no physical card, straight to use.
        DemoActivate = "demo_activate" => "デモ発行",
        /// Sent to the facility by a secure method (第7条).
        Ship = "ship" => "発送",
        /// The center confirms the facility received it (第8条1).
        ConfirmReceipt = "confirm_receipt" => "受領確認",
        /// The facility hands it to the holder and records it (第8条1).
        HandOver = "hand_over" => "交付",
        /// The holder starts using it (first login or the desk's record).
        Activate = "activate" => "利用開始",
        /// Temporarily stopped.
        Suspend = "suspend" => "利用停止",
        /// Stop lifted.
        Resume = "resume" => "利用再開",
        /// Lost or stolen: emergency revocation, at any hour (第11条; 第15条2 when it
        /// cannot be returned).
        ReportLost = "report_lost" => "紛失・盗難の届出",
        /// The parcel never arrived (第8条: a lost parcel must not yield a usable card).
        LostInPost = "lost_in_post" => "配送中の紛失",
        /// Damage reported (第3条5).
        ReportDamaged = "report_damaged" => "破損の届出",
        /// The association asks for it back (第12条, 第13条, 第15条).
        RequestReturn = "request_return" => "返却依頼",
        /// The card arrived back at the center (第15条).
        ConfirmReturn = "confirm_return" => "返却確認",
        /// Destroyed and recorded (第15条).
        Destroy = "destroy" => "廃棄",
        /// Its validity period ended (第10条3).
        Expire = "expire" => "有効期限切れ",
        /// The service ends (第27条).
        Terminate = "terminate" => "サービス廃止",
    }
}

use CardEvent as Ev;
use CardState as St;

/// Every allowed transition: (from, event, to). Anything not here is refused.
pub const TRANSITIONS: &[(CardState, CardEvent, CardState)] = &[
    // Issuance and delivery (第7条, 第8条1).
    (St::Blank, Ev::Personalize, St::Personalized),
    (St::Blank, Ev::DemoActivate, St::Active),
    (St::Personalized, Ev::Ship, St::Shipped),
    (St::Personalized, Ev::Destroy, St::Destroyed),
    (St::Shipped, Ev::ConfirmReceipt, St::Received),
    (St::Received, Ev::HandOver, St::HandedOver),
    (St::HandedOver, Ev::Activate, St::Active),
    // Suspension. A handed-over card is in use (nothing activates it separately outside
    // the demo): it can be suspended, damaged, asked back and expire like an active one.
    (St::Active, Ev::Suspend, St::Suspended),
    (St::HandedOver, Ev::Suspend, St::Suspended),
    (St::Suspended, Ev::Resume, St::Active),
    // Loss (第8条, 第11条, 第15条2).
    (St::Shipped, Ev::LostInPost, St::Lost),
    (St::Shipped, Ev::ReportLost, St::Lost),
    (St::Received, Ev::ReportLost, St::Lost),
    (St::HandedOver, Ev::ReportLost, St::Lost),
    (St::Active, Ev::ReportLost, St::Lost),
    (St::Suspended, Ev::ReportLost, St::Lost),
    (St::ReturnRequested, Ev::ReportLost, St::Lost),
    // Damage (第3条5, 第14条2).
    (St::Active, Ev::ReportDamaged, St::Damaged),
    (St::HandedOver, Ev::ReportDamaged, St::Damaged),
    (St::Suspended, Ev::ReportDamaged, St::Damaged),
    // Return and destruction (第13条, 第15条).
    (St::Active, Ev::RequestReturn, St::ReturnRequested),
    (St::HandedOver, Ev::RequestReturn, St::ReturnRequested),
    (St::Suspended, Ev::RequestReturn, St::ReturnRequested),
    (St::Damaged, Ev::RequestReturn, St::ReturnRequested),
    (St::Expired, Ev::RequestReturn, St::ReturnRequested),
    (St::ReturnRequested, Ev::ConfirmReturn, St::Returned),
    (St::Damaged, Ev::ConfirmReturn, St::Returned),
    (St::Lost, Ev::ConfirmReturn, St::Returned),
    (St::Returned, Ev::Destroy, St::Destroyed),
    // Expiry (第10条3).
    (St::Active, Ev::Expire, St::Expired),
    (St::HandedOver, Ev::Expire, St::Expired),
    (St::Suspended, Ev::Expire, St::Expired),
    // End of the service (第27条).
    (St::Blank, Ev::Terminate, St::Terminated),
    (St::Personalized, Ev::Terminate, St::Terminated),
    (St::Shipped, Ev::Terminate, St::Terminated),
    (St::Received, Ev::Terminate, St::Terminated),
    (St::HandedOver, Ev::Terminate, St::Terminated),
    (St::Active, Ev::Terminate, St::Terminated),
    (St::Suspended, Ev::Terminate, St::Terminated),
    (St::Lost, Ev::Terminate, St::Terminated),
    (St::Damaged, Ev::Terminate, St::Terminated),
    (St::ReturnRequested, Ev::Terminate, St::Terminated),
    (St::Expired, Ev::Terminate, St::Terminated),
];

/// What the app layer must do after a card transition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum CardEffect {
    /// Revoke the card's certificate (a no-op if it is already revoked; the app treats
    /// [`crate::cert::CertStatusError::AlreadyRevoked`] as done). The grounds decide the
    /// RFC 5280 reason and the article (issue 10 item 1).
    Revoke {
        /// Why.
        grounds: RevocationGrounds,
    },
    /// Put the certificate on hold (certificateHold in the next CRL) while the card is
    /// suspended. A no-op when the certificate is not valid.
    HoldCertificate,
    /// Release a hold: on receipt under the `hold_until_receipt` policy (第8条), or when a
    /// suspension is lifted. A no-op when the certificate is not on hold.
    ReleaseCertificateHold,
    /// Send the PIN mailer to the facility now that it has confirmed receipt (第8条,
    /// 第9条: the PIN travels separately from the card).
    ReleasePinMailer,
    /// Destroy the PIN mailer that was never sent.
    DestroyPinMailer,
    /// Send the facility a notice (第24条).
    NotifyFacility {
        /// The template.
        template: NoticeKind,
    },
}

/// The result of a legal transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardTransition {
    /// The new state.
    pub state: CardState,
    /// What the app layer must do, in order.
    pub effects: Vec<CardEffect>,
}

/// A transition that is not allowed. Messages are Japanese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardTransitionError {
    /// `event` is not allowed from `from`.
    #[error("この利用者カードは「{}」のため「{}」はできません", .from.label_ja(), .event.label_ja())]
    Illegal {
        /// The current state.
        from: CardState,
        /// The event asked for.
        event: CardEvent,
    },
}

impl CardState {
    /// Whether nothing can happen to the card any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Destroyed | Self::Terminated)
    }

    /// The state `event` leads to, if [`TRANSITIONS`] allows it.
    pub fn next(self, event: CardEvent) -> Option<CardState> {
        TRANSITIONS
            .iter()
            .find(|(from, ev, _)| *from == self && *ev == event)
            .map(|(_, _, to)| *to)
    }

    /// Applies `event` (DESIGN §3): the new state and the effects, or an error naming
    /// the refused transition.
    pub fn apply(self, event: CardEvent) -> Result<CardTransition, CardTransitionError> {
        let state = self
            .next(event)
            .ok_or(CardTransitionError::Illegal { from: self, event })?;
        Ok(CardTransition {
            state,
            effects: effects(self, event),
        })
    }
}

/// Whether the certificate of a card in `state` may still be valid (so that ending the
/// card must revoke it): from personalization until it is lost, returned or expired.
fn certificate_may_be_valid(state: CardState) -> bool {
    matches!(
        state,
        St::Personalized
            | St::Shipped
            | St::Received
            | St::HandedOver
            | St::Active
            | St::Suspended
            | St::Damaged
            | St::ReturnRequested
    )
}

/// The effects of an allowed transition.
fn effects(from: CardState, event: CardEvent) -> Vec<CardEffect> {
    use CardEffect as E;
    let notify = |template| E::NotifyFacility { template };
    match event {
        Ev::Personalize | Ev::DemoActivate | Ev::HandOver | Ev::Activate => vec![],
        Ev::Ship => vec![notify(NoticeKind::CardShipped)],
        // 第8条1: the PIN goes out only once the facility has the card.
        Ev::ConfirmReceipt => vec![
            E::ReleaseCertificateHold,
            E::ReleasePinMailer,
            notify(NoticeKind::CardReceiptConfirmed),
        ],
        Ev::Suspend => vec![E::HoldCertificate, notify(NoticeKind::CardSuspended)],
        Ev::Resume => vec![E::ReleaseCertificateHold, notify(NoticeKind::CardResumed)],
        // 第11条: emergency revocation. A PIN mailer not yet sent — held until receipt
        // (第8条), or released but not dispatched — is destroyed: its PIN and code are for
        // a card that is gone (one already dispatched is the holder's).
        Ev::ReportLost | Ev::LostInPost => {
            let mut v = vec![E::Revoke {
                grounds: if event == Ev::LostInPost {
                    RevocationGrounds::LostInPost
                } else {
                    RevocationGrounds::Emergency(EmergencyCause::Lost)
                },
            }];
            v.push(E::DestroyPinMailer);
            v.push(notify(if event == Ev::LostInPost {
                NoticeKind::CardLostInPost
            } else {
                NoticeKind::CardRevokedForLoss
            }));
            v
        }
        Ev::ReportDamaged => vec![notify(NoticeKind::CardDamageReported)],
        Ev::RequestReturn => vec![notify(NoticeKind::CardReturnRequested)],
        Ev::ConfirmReturn => vec![notify(NoticeKind::CardReturnConfirmed)],
        Ev::Destroy => {
            if from == St::Personalized {
                // Spoiled at the station: its certificate was issued and must not live on.
                vec![
                    E::Revoke {
                        grounds: RevocationGrounds::IssuanceAbandoned,
                    },
                    E::DestroyPinMailer,
                ]
            } else {
                vec![notify(NoticeKind::CardDestroyed)]
            }
        }
        Ev::Expire => vec![notify(NoticeKind::CardExpired)],
        // 第27条3: every certificate is revoked on the termination date. Facilities were
        // told 60 days ahead (第27条2), so no notice per card.
        Ev::Terminate => {
            let mut v = Vec::new();
            if certificate_may_be_valid(from) {
                v.push(E::Revoke {
                    grounds: RevocationGrounds::Termination,
                });
            }
            if matches!(from, St::Personalized | St::Shipped) {
                v.push(E::DestroyPinMailer);
            }
            v
        }
    }
}

/// The holder and facility a card belongs to: fixed when the card is personalized and
/// never changed (第3条4: no lending or transfer; 第4条2: it works only at the facility
/// that applied; 第25条: rights are not transferable).
///
/// The fields are private and there are no setters; no card transition takes or returns
/// a binding, so no transition can change it. A change of holder name or facility name is
/// a reissue (a new card), never an edit of this binding.
///
/// ```compile_fail
/// # use kmn_domain::card::CardBinding;
/// # use kmn_domain::facility::FacilityCode;
/// # use kmn_domain::person::HolderId;
/// let mut b = CardBinding::new(
///     HolderId::from_sequence(1).unwrap(),
///     FacilityCode::parse("4310112349").unwrap(),
/// );
/// b.holder = HolderId::from_sequence(2).unwrap(); // private field: does not compile
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CardBinding {
    holder: HolderId,
    facility: FacilityCode,
}

impl CardBinding {
    /// Binds a card to its holder and facility, once, at personalization.
    pub fn new(holder: HolderId, facility: FacilityCode) -> Self {
        Self { holder, facility }
    }

    /// The holder.
    pub fn holder(&self) -> &HolderId {
        &self.holder
    }

    /// The facility.
    pub fn facility(&self) -> &FacilityCode {
        &self.facility
    }

    /// Whether the card may be used at `facility` (第4条2: only where it was applied for).
    pub fn valid_at(&self, facility: &FacilityCode) -> bool {
        &self.facility == facility
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CardEffect as E;

    /// One test per row of [`TRANSITIONS`], named after its article; `TESTED` lists the
    /// rows the tests cover and must equal the table.
    macro_rules! row_tests {
        ($($name:ident: $from:ident, $event:ident => $to:ident;)+) => {
            const TESTED: &[(CardState, CardEvent, CardState)] =
                &[$((St::$from, Ev::$event, St::$to)),+];
            $(
                #[test]
                fn $name() {
                    let t = St::$from.apply(Ev::$event).unwrap();
                    assert_eq!(t.state, St::$to);
                }
            )+
        };
    }

    row_tests! {
        art7_blank_is_personalized: Blank, Personalize => Personalized;
        demo_blank_is_activated_from_csr: Blank, DemoActivate => Active;
        art7_personalized_is_shipped: Personalized, Ship => Shipped;
        art15_spoiled_personalized_card_is_destroyed: Personalized, Destroy => Destroyed;
        art8_1_shipped_card_receipt_confirmed: Shipped, ConfirmReceipt => Received;
        art8_1_received_card_handed_over: Received, HandOver => HandedOver;
        art8_1_handed_over_card_activated: HandedOver, Activate => Active;
        active_card_suspended: Active, Suspend => Suspended;
        issue12_handed_over_card_suspended: HandedOver, Suspend => Suspended;
        suspended_card_resumed: Suspended, Resume => Active;
        art8_card_lost_in_post: Shipped, LostInPost => Lost;
        art11_shipped_card_reported_lost: Shipped, ReportLost => Lost;
        art11_received_card_reported_lost: Received, ReportLost => Lost;
        art11_handed_over_card_reported_lost: HandedOver, ReportLost => Lost;
        art11_active_card_reported_lost: Active, ReportLost => Lost;
        art11_suspended_card_reported_lost: Suspended, ReportLost => Lost;
        art15_2_unreturnable_card_goes_through_loss: ReturnRequested, ReportLost => Lost;
        art3_5_active_card_reported_damaged: Active, ReportDamaged => Damaged;
        art3_5_handed_over_card_reported_damaged: HandedOver, ReportDamaged => Damaged;
        art3_5_suspended_card_reported_damaged: Suspended, ReportDamaged => Damaged;
        art15_active_card_return_requested: Active, RequestReturn => ReturnRequested;
        art15_handed_over_card_return_requested: HandedOver, RequestReturn => ReturnRequested;
        art15_suspended_card_return_requested: Suspended, RequestReturn => ReturnRequested;
        art15_damaged_card_return_requested: Damaged, RequestReturn => ReturnRequested;
        art15_expired_card_return_requested: Expired, RequestReturn => ReturnRequested;
        art15_requested_card_returned: ReturnRequested, ConfirmReturn => Returned;
        art15_damaged_card_returned: Damaged, ConfirmReturn => Returned;
        art15_found_lost_card_returned: Lost, ConfirmReturn => Returned;
        art15_returned_card_destroyed: Returned, Destroy => Destroyed;
        art10_3_active_card_expires: Active, Expire => Expired;
        art10_3_handed_over_card_expires: HandedOver, Expire => Expired;
        art10_3_suspended_card_expires: Suspended, Expire => Expired;
        art27_blank_card_terminated: Blank, Terminate => Terminated;
        art27_personalized_card_terminated: Personalized, Terminate => Terminated;
        art27_shipped_card_terminated: Shipped, Terminate => Terminated;
        art27_received_card_terminated: Received, Terminate => Terminated;
        art27_handed_over_card_terminated: HandedOver, Terminate => Terminated;
        art27_active_card_terminated: Active, Terminate => Terminated;
        art27_suspended_card_terminated: Suspended, Terminate => Terminated;
        art27_lost_card_terminated: Lost, Terminate => Terminated;
        art27_damaged_card_terminated: Damaged, Terminate => Terminated;
        art27_return_requested_card_terminated: ReturnRequested, Terminate => Terminated;
        art27_expired_card_terminated: Expired, Terminate => Terminated;
    }

    #[test]
    fn design3_every_row_has_a_test_and_rows_are_unique() {
        assert_eq!(TESTED, TRANSITIONS);
        for (i, (f, e, _)) in TRANSITIONS.iter().enumerate() {
            assert!(
                !TRANSITIONS[i + 1..]
                    .iter()
                    .any(|(f2, e2, _)| f2 == f && e2 == e),
                "duplicate row {f:?} {e:?}"
            );
        }
    }

    #[test]
    fn design3_every_pair_not_in_table_is_refused() {
        for from in CardState::ALL {
            for event in CardEvent::ALL {
                let listed = TRANSITIONS.iter().any(|(f, e, _)| f == from && e == event);
                let got = from.apply(*event);
                if listed {
                    assert!(got.is_ok(), "{from:?} {event:?}");
                } else {
                    assert_eq!(
                        got,
                        Err(CardTransitionError::Illegal {
                            from: *from,
                            event: *event
                        }),
                        "{from:?} {event:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn design3_final_states_accept_nothing() {
        for s in [St::Destroyed, St::Terminated] {
            assert!(s.is_final());
            for e in CardEvent::ALL {
                assert!(s.apply(*e).is_err());
            }
        }
        for s in CardState::ALL {
            if !s.is_final() {
                assert!(
                    CardEvent::ALL.iter().any(|e| s.apply(*e).is_ok()),
                    "{s:?} is a dead end"
                );
            }
        }
    }

    #[test]
    fn design3_refusal_names_state_and_event_in_japanese() {
        let e = St::Destroyed.apply(Ev::Resume).unwrap_err();
        assert_eq!(
            e.to_string(),
            "この利用者カードは「廃棄済み」のため「利用再開」はできません"
        );
        // Returned cards go on to destruction, even at termination.
        assert!(St::Returned.apply(Ev::Terminate).is_err());
    }

    #[test]
    fn art8_pin_mailer_released_only_on_receipt() {
        let t = St::Shipped.apply(Ev::ConfirmReceipt).unwrap();
        assert!(t.effects.contains(&E::ReleasePinMailer));
        assert!(t.effects.contains(&E::ReleaseCertificateHold));
        for from in CardState::ALL {
            for ev in CardEvent::ALL {
                if let Ok(t) = from.apply(*ev)
                    && *ev != Ev::ConfirmReceipt
                {
                    assert!(!t.effects.contains(&E::ReleasePinMailer), "{from:?} {ev:?}");
                }
            }
        }
    }

    #[test]
    fn art8_lost_parcel_never_yields_a_usable_card() {
        let t = St::Shipped.apply(Ev::LostInPost).unwrap();
        assert_eq!(
            t.effects,
            vec![
                E::Revoke {
                    grounds: RevocationGrounds::LostInPost
                },
                E::DestroyPinMailer,
                E::NotifyFacility {
                    template: NoticeKind::CardLostInPost
                }
            ]
        );
        // After receipt the mailer may still wait for dispatch: a loss destroys it too
        // (the effect touches only a mailer not yet sent).
        let t = St::Received.apply(Ev::ReportLost).unwrap();
        assert!(t.effects.contains(&E::DestroyPinMailer));
    }

    #[test]
    fn art11_loss_is_revoked_at_once_as_key_compromise() {
        for from in [
            St::Shipped,
            St::Received,
            St::HandedOver,
            St::Active,
            St::Suspended,
            St::ReturnRequested,
        ] {
            let t = from.apply(Ev::ReportLost).unwrap();
            assert_eq!(
                t.effects[0],
                E::Revoke {
                    grounds: RevocationGrounds::Emergency(EmergencyCause::Lost)
                },
                "{from:?}"
            );
            assert_eq!(
                RevocationGrounds::Emergency(EmergencyCause::Lost).reason(),
                crate::cert::RevocationReason::KeyCompromise
            );
        }
    }

    #[test]
    fn art27_3_termination_revokes_every_possibly_valid_certificate() {
        for (from, ev, _) in TRANSITIONS {
            if *ev != Ev::Terminate {
                continue;
            }
            let t = from.apply(Ev::Terminate).unwrap();
            let revokes = t.effects.contains(&E::Revoke {
                grounds: RevocationGrounds::Termination,
            });
            assert_eq!(revokes, certificate_may_be_valid(*from), "{from:?}");
        }
    }

    #[test]
    fn art15_spoiled_card_revoked_and_returned_card_destruction_notified() {
        let t = St::Personalized.apply(Ev::Destroy).unwrap();
        assert!(t.effects.contains(&E::Revoke {
            grounds: RevocationGrounds::IssuanceAbandoned
        }));
        let t = St::Returned.apply(Ev::Destroy).unwrap();
        assert_eq!(
            t.effects,
            vec![E::NotifyFacility {
                template: NoticeKind::CardDestroyed
            }]
        );
    }

    #[test]
    fn art3_4_binding_is_fixed_to_holder_and_facility() {
        let hospital = FacilityCode::parse("4310112349").unwrap();
        let pharmacy = FacilityCode::parse("4340140005").unwrap();
        let b = CardBinding::new(HolderId::from_sequence(7).unwrap(), hospital.clone());
        assert_eq!(b.holder().as_str(), "H00000007");
        assert!(b.valid_at(&hospital));
        assert!(!b.valid_at(&pharmacy));
        // Transitions take and return no binding: the state changes, the binding cannot.
        let t = St::Active.apply(Ev::Suspend).unwrap();
        assert_eq!(t.state, St::Suspended);
        assert_eq!(b.facility(), &hospital);
    }

    #[test]
    fn labels_match_requirements() {
        let labels: Vec<_> = CardState::ALL.iter().map(|s| s.label_ja()).collect();
        assert_eq!(
            labels,
            [
                "未発行",
                "発行済み",
                "発送済み",
                "受領済み",
                "交付済み",
                "利用中",
                "利用停止中",
                "紛失",
                "破損",
                "返却依頼中",
                "返却済み",
                "廃棄済み",
                "有効期限切れ",
                "利用終了"
            ]
        );
        assert_eq!("handed_over".parse(), Ok(St::HandedOver));
        assert_eq!("report_lost".parse(), Ok(Ev::ReportLost));
    }
}
