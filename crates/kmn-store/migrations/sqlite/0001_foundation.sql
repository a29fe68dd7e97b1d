-- kmn-pki foundation schema (SQLite). Times are UTC Unix seconds (BIGINT).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE cas (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('root', 'issuing', 'ocsp_signer')),
    issuer_name TEXT,
    serial_hex TEXT NOT NULL,
    cert_der BLOB NOT NULL,
    key_ref TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    active INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);

-- Serial and to-be-signed certificate, recorded before the key signs (Boulder's
-- precertificate step). Never updated or deleted.
CREATE TABLE issuance_intents (
    serial_hex TEXT PRIMARY KEY,
    ca_name TEXT NOT NULL,
    profile TEXT NOT NULL,
    tbs_der BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

-- Issued certificates: append-only.
CREATE TABLE certificates (
    serial_hex TEXT PRIMARY KEY REFERENCES issuance_intents(serial_hex),
    ca_name TEXT NOT NULL,
    profile TEXT NOT NULL,
    subject TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    fingerprint_sha256 TEXT NOT NULL UNIQUE,
    der BLOB NOT NULL,
    issued_at BIGINT NOT NULL
);

-- The mutable status of each certificate, changed only by compare-and-set.
CREATE TABLE cert_status (
    serial_hex TEXT PRIMARY KEY REFERENCES certificates(serial_hex),
    serial BLOB NOT NULL,
    ca_name TEXT NOT NULL,
    not_after BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('valid', 'on_hold', 'revoked')),
    reason INTEGER,
    revoked_at BIGINT,
    invalidity_date BIGINT,
    article TEXT,
    comment TEXT,
    requested_by TEXT,
    request_received_at BIGINT,
    first_crl_number BIGINT,
    first_crl_published_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX cert_status_crl ON cert_status (ca_name, status, not_after);
CREATE INDEX cert_status_unpublished ON cert_status (ca_name, first_crl_number);

CREATE TABLE crl_state (
    ca_name TEXT PRIMARY KEY,
    last_number BIGINT NOT NULL,
    last_this_update BIGINT NOT NULL,
    last_published_number BIGINT NOT NULL
);

CREATE TABLE crls (
    ca_name TEXT NOT NULL,
    number BIGINT NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (ca_name, number)
);

-- Hash-chained audit log (append-only) and its head.
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    facility TEXT,
    summary TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER issuance_intents_append_only_u BEFORE UPDATE ON issuance_intents
BEGIN SELECT RAISE(ABORT, 'issuance_intents is append-only'); END;
CREATE TRIGGER issuance_intents_append_only_d BEFORE DELETE ON issuance_intents
BEGIN SELECT RAISE(ABORT, 'issuance_intents is append-only'); END;
CREATE TRIGGER certificates_append_only_u BEFORE UPDATE ON certificates
BEGIN SELECT RAISE(ABORT, 'certificates is append-only'); END;
CREATE TRIGGER certificates_append_only_d BEFORE DELETE ON certificates
BEGIN SELECT RAISE(ABORT, 'certificates is append-only'); END;
CREATE TRIGGER audit_events_append_only_u BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_append_only_d BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER cert_status_never_unrevoke BEFORE UPDATE ON cert_status
WHEN OLD.status = 'revoked' AND NEW.status <> 'revoked'
BEGIN SELECT RAISE(ABORT, 'a revoked certificate is never un-revoked'); END;
