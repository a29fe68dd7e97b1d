//! The notices the support center sends to a facility (第24条: by post, fax, e-mail,
//! telephone or the home page; the channel is the app layer's choice). Each variant is a
//! template the app layer renders; its label is the subject line.

use crate::enum_codes::coded_enum;

coded_enum! {
    /// Which notice template to send to the facility (第24条).
    pub enum NoticeKind: "通知の種類" {
        /// An application was received (第5条).
        ApplicationReceived = "application_received" => "申請受付のお知らせ",
        /// An application was returned with its deficiencies listed (第6条2).
        ApplicationReturned = "application_returned" => "申請内容の不備のお知らせ（差戻し）",
        /// A corrected application was received again (第6条2).
        ApplicationResubmitted = "application_resubmitted" => "再申請受付のお知らせ",
        /// An application was approved; issuance starts (第6条1).
        ApplicationApproved = "application_approved" => "申請承認のお知らせ",
        /// An application was rejected, with the reason (第6条).
        ApplicationRejected = "application_rejected" => "申請却下のお知らせ",
        /// An application was withdrawn.
        ApplicationWithdrawn = "application_withdrawn" => "申請取下げのお知らせ",
        /// The procedure an application asked for is complete.
        ApplicationFulfilled = "application_fulfilled" => "手続き完了のお知らせ",
        /// A card was shipped to the facility (第7条).
        CardShipped = "card_shipped" => "利用者カード発送のお知らせ",
        /// The facility's receipt of a card was confirmed (第8条1).
        CardReceiptConfirmed = "card_receipt_confirmed" => "利用者カード受領確認のお知らせ",
        /// A card lost in the post was revoked (第8条, 第11条).
        CardLostInPost = "card_lost_in_post" => "配送中の紛失による失効のお知らせ",
        /// A card reported lost or stolen was revoked (第11条).
        CardRevokedForLoss = "card_revoked_for_loss" => "紛失・盗難による失効のお知らせ",
        /// Damage to a card was reported (第3条5, 第14条2).
        CardDamageReported = "card_damage_reported" => "破損届受付のお知らせ",
        /// A card was suspended.
        CardSuspended = "card_suspended" => "利用停止のお知らせ",
        /// A suspended card was resumed.
        CardResumed = "card_resumed" => "利用再開のお知らせ",
        /// The facility is asked to return a card (第12条, 第13条, 第15条).
        CardReturnRequested = "card_return_requested" => "利用者カード返却のお願い",
        /// A returned card arrived at the center (第15条).
        CardReturnConfirmed = "card_return_confirmed" => "利用者カード返却確認のお知らせ",
        /// A returned card was destroyed (第15条).
        CardDestroyed = "card_destroyed" => "利用者カード廃棄完了のお知らせ",
        /// A card passed its validity period (第10条3).
        CardExpired = "card_expired" => "有効期限切れのお知らせ",
        /// The association revoked certificates on its own grounds (第12条), under dual
        /// control.
        CertificateRevokedByAssociation = "certificate_revoked_by_association" => "電子証明書失効のお知らせ（本会の決定）",
    }
}
