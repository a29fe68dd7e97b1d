-- Delivery of cards (第7条, 第8条): shipping, receipt and handover; the PIN mailers the
-- center holds until the facility confirms receipt (DESIGN §4 Receipt); and changes of
-- certificate hold that the next CRL must carry.
CREATE TABLE card_deliveries (
    card_id TEXT PRIMARY KEY REFERENCES cards(id),
    shipped_at BIGINT,
    shipped_by TEXT,
    shipping_method TEXT,
    tracking_number TEXT,
    received_at BIGINT,
    received_by TEXT,
    receipt_channel TEXT,
    receipt_note TEXT,
    handed_over_at BIGINT,
    handed_over_to TEXT,
    handed_over_by TEXT,
    handover_recorded_at BIGINT,
    lost_at BIGINT,
    lost_note TEXT
);

CREATE TABLE pin_mailers (
    id TEXT PRIMARY KEY,
    card_id TEXT NOT NULL REFERENCES cards(id),
    purpose TEXT NOT NULL CHECK (purpose IN ('initial', 'unlock')),
    state TEXT NOT NULL CHECK (state IN ('held', 'released', 'dispatched', 'destroyed')),
    file_name TEXT NOT NULL,
    produced_by TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    released_at BIGINT,
    dispatched_at BIGINT,
    destroyed_at BIGINT,
    version BIGINT NOT NULL
);
CREATE INDEX pin_mailers_card ON pin_mailers (card_id);
CREATE INDEX pin_mailers_state ON pin_mailers (state, created_at);

ALTER TABLE crl_state ADD COLUMN status_changes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crl_state ADD COLUMN status_changes_published BIGINT NOT NULL DEFAULT 0;
