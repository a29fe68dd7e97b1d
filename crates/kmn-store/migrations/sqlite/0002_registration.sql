-- Registration authority (SQLite): facilities, people, applications, cards, notices,
-- mail outbox, jobs, accounts, the access log and idempotency keys.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE published_documents (
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes BLOB NOT NULL,
    published_at BIGINT NOT NULL,
    published_by TEXT NOT NULL,
    PRIMARY KEY (kind, version)
);

CREATE TABLE facilities (
    code TEXT PRIMARY KEY,
    name_kanji TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    name_romaji TEXT NOT NULL,
    kind TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    address TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL
);

CREATE TABLE consents (
    facility_code TEXT NOT NULL REFERENCES facilities(code),
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    given_by TEXT NOT NULL,
    given_at BIGINT NOT NULL,
    recorded_by TEXT NOT NULL,
    PRIMARY KEY (facility_code, kind, version)
);

CREATE TABLE persons (
    holder_id TEXT PRIMARY KEY,
    name_kanji TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    name_romaji TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    profession TEXT NOT NULL,
    licence_checked BIGINT NOT NULL,
    work_email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX persons_kana ON persons (name_kana);

CREATE TABLE affiliations (
    holder_id TEXT NOT NULL REFERENCES persons(holder_id),
    facility_code TEXT NOT NULL REFERENCES facilities(code),
    permitted BIGINT NOT NULL,
    is_desk BIGINT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (holder_id, facility_code)
);
CREATE INDEX affiliations_facility ON affiliations (facility_code);

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    facility_code TEXT NOT NULL REFERENCES facilities(code),
    holder_id TEXT NOT NULL REFERENCES persons(holder_id),
    kind TEXT NOT NULL,
    kind_detail TEXT,
    validity_years BIGINT,
    target_card_id TEXT,
    state TEXT NOT NULL,
    fee_bearing BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    reject_reason TEXT,
    card_id TEXT,
    version BIGINT NOT NULL
);
CREATE INDEX applications_facility ON applications (facility_code, state, created_at);
CREATE INDEX applications_state ON applications (state, created_at);

CREATE TABLE application_rounds (
    application_id TEXT NOT NULL REFERENCES applications(id),
    seq BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    deficiencies TEXT,
    comment TEXT,
    PRIMARY KEY (application_id, seq)
);

CREATE TABLE application_documents (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id),
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    bytes BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    retain_until BIGINT
);
CREATE INDEX application_documents_app ON application_documents (application_id);

CREATE TABLE cards (
    id TEXT PRIMARY KEY,
    holder_id TEXT NOT NULL REFERENCES persons(holder_id),
    facility_code TEXT NOT NULL REFERENCES facilities(code),
    application_id TEXT NOT NULL REFERENCES applications(id),
    state TEXT NOT NULL,
    cert_serial_hex TEXT,
    token_serial TEXT,
    validity_years BIGINT NOT NULL,
    issued_at BIGINT,
    not_after BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX cards_holder_facility ON cards (holder_id, facility_code, state);

CREATE TABLE notices (
    id TEXT PRIMARY KEY,
    facility_code TEXT,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    object TEXT,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE INDEX notices_facility ON notices (facility_code, created_at);

CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY,
    notice_id TEXT,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    attempts BIGINT NOT NULL,
    last_error TEXT
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedup_key TEXT UNIQUE,
    run_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    attempts BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_due ON jobs (state, run_at);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    display_name TEXT NOT NULL,
    cert_issuer TEXT NOT NULL,
    cert_fingerprint TEXT NOT NULL UNIQUE,
    facility_code TEXT,
    holder_id TEXT,
    disabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

-- Reads of personal data (MHLW guideline G1), its own append-only table so that reads do
-- not serialise on the audit chain (DESIGN §8).
CREATE TABLE access_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    account_id TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    facility_code TEXT
);

CREATE TABLE idempotency_keys (
    account_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, key)
);

CREATE TRIGGER access_log_append_only_u BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;
CREATE TRIGGER access_log_append_only_d BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;
-- 第3条4, 第25条: a card never moves to another person or facility.
CREATE TRIGGER cards_bound_forever BEFORE UPDATE ON cards
WHEN NEW.holder_id <> OLD.holder_id OR NEW.facility_code <> OLD.facility_code
BEGIN SELECT RAISE(ABORT, 'a card can never move to another person or facility'); END;
