-- An audit trail that outlives a hostile DBA (issue 9 item 6).
--
-- 1. The audit signer's key and certificate are kept in `cas` like the OCSP signer's.
ALTER TABLE cas DROP CONSTRAINT cas_kind_check;
ALTER TABLE cas ADD CONSTRAINT cas_kind_check
    CHECK (kind IN ('root', 'issuing', 'ocsp_signer', 'audit_signer'));

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
    der BYTEA NOT NULL
);
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
FOR EACH ROW EXECUTE FUNCTION kmn_append_only();

-- 3. Reads of personal data are sealed into the chain in batches: each `access_log.seal`
--    audit event carries the SHA-256 of the rows it seals, and this table says which
--    rows each seal covers (rows that commit late are sealed by the next one).
CREATE TABLE access_log_seals (
    log_id BIGINT PRIMARY KEY,
    audit_seq BIGINT NOT NULL
);
CREATE INDEX access_log_seals_seq ON access_log_seals (audit_seq);
CREATE TRIGGER access_log_seals_append_only BEFORE UPDATE OR DELETE ON access_log_seals
FOR EACH ROW EXECUTE FUNCTION kmn_append_only();

CREATE INDEX audit_events_action ON audit_events (action, seq);
