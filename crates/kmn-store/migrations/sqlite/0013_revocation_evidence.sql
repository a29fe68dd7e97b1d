-- The evidence of a revocation (第23条3, issue 10 item 6): besides when the request
-- arrived, through whom and which channel, when it was revoked and the first CRL listing
-- it (migrations 1 and 9), when the first OCSP response showing it revoked was signed
-- (its producedAt) and when that response was stored, read back from this table and
-- checked (its signature, its CertID and its revoked status). Set once, never changed.
ALTER TABLE cert_status ADD COLUMN first_ocsp_produced_at BIGINT;
ALTER TABLE cert_status ADD COLUMN first_ocsp_at BIGINT;
