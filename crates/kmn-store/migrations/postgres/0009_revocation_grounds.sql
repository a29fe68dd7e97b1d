-- One revocation path (issue 10 item 1): every revocation records its grounds — why, as
-- the terms of use name it (`emergency:lost`, `association:unpaid_fees`, `renewal`, …,
-- kmn_domain::RevocationGrounds::code) — and the channel the request came through
-- (`desk`, `holder`, `phone`, `application`, `proposal`, …), beside the RFC 5280 reason,
-- the article, who asked and when the request arrived (第23条3: the evidence).
ALTER TABLE cert_status ADD COLUMN grounds TEXT;
ALTER TABLE cert_status ADD COLUMN channel TEXT;
