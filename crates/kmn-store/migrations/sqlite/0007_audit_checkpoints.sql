-- An audit trail that outlives a hostile DBA (issue 9 item 6).
--
-- 1. The audit signer's key and certificate are kept in `cas` like the OCSP signer's:
--    the kind check gains 'audit_signer' (SQLite cannot alter a CHECK: the table is
--    rebuilt; nothing references it).
CREATE TABLE cas_new (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('root', 'issuing', 'ocsp_signer', 'audit_signer')),
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
INSERT INTO cas_new (name, kind, issuer_name, serial_hex, cert_der, key_ref, algorithm,
                     not_before, not_after, active, created_at)
SELECT name, kind, issuer_name, serial_hex, cert_der, key_ref, algorithm,
       not_before, not_after, active, created_at FROM cas;
DROP TABLE cas;
ALTER TABLE cas_new RENAME TO cas;

-- 2. Signed checkpoints of the audit chain (docs/AUDIT-CHECKPOINT.asn1). The signed file
--    outside the database is the authority `kmn audit verify` checks against; this copy
--    lets an instance find the previous checkpoint and serves listings.
CREATE TABLE audit_checkpoints (
    number BIGINT PRIMARY KEY,
    event_seq BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    previous_sha256 TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    signer TEXT NOT NULL,
    der BLOB NOT NULL
);
CREATE TRIGGER audit_checkpoints_append_only_u BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_append_only_d BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;

-- 3. Reads of personal data are sealed into the chain in batches: each `access_log.seal`
--    audit event carries the SHA-256 of the rows it seals, and this table says which
--    rows each seal covers (rows that commit late are sealed by the next one).
CREATE TABLE access_log_seals (
    log_id BIGINT PRIMARY KEY,
    audit_seq BIGINT NOT NULL
);
CREATE INDEX access_log_seals_seq ON access_log_seals (audit_seq);
CREATE TRIGGER access_log_seals_append_only_u BEFORE UPDATE ON access_log_seals
BEGIN SELECT RAISE(ABORT, 'access_log_seals is append-only'); END;
CREATE TRIGGER access_log_seals_append_only_d BEFORE DELETE ON access_log_seals
BEGIN SELECT RAISE(ABORT, 'access_log_seals is append-only'); END;

CREATE INDEX audit_events_action ON audit_events (action, seq);
