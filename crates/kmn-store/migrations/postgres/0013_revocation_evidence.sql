-- The evidence of a revocation (第23条3, issue 10 item 6): besides when the request
-- arrived, through whom and which channel, when it was revoked and the first CRL listing
-- it (migrations 1 and 9), when the first OCSP response showing it revoked was signed
-- (its producedAt) and when that response was stored, read back from this table and
-- checked (its signature, its CertID and its revoked status). Set once, never changed.
ALTER TABLE cert_status ADD COLUMN first_ocsp_produced_at BIGINT;
ALTER TABLE cert_status ADD COLUMN first_ocsp_at BIGINT;
-- Revocations made before this migration: what the stored responses still show — the
-- earliest stored response showing the revocation (it may be a later refresh of the
-- first one: then these times are an upper bound, never earlier than what happened).
-- A revocation without one is stamped by the next response the signer loop reads back.
UPDATE cert_status SET
    first_ocsp_produced_at = (SELECT MIN(o.produced_at) FROM ocsp_responses o
        WHERE o.serial_hex = cert_status.serial_hex AND o.status = 'revoked'),
    first_ocsp_at = (SELECT MIN(o.stored_at) FROM ocsp_responses o
        WHERE o.serial_hex = cert_status.serial_hex AND o.status = 'revoked')
WHERE status = 'revoked';
