-- The OCSP signer loop's writing work for one issuing CA (issue 10 item 5) is leased:
-- one `kmn serve` instance at a time refreshes and re-signs that CA's stored responses,
-- and renews its lease on every pass; another takes over when the lease runs out.
-- After an OCSP signer is rotated, every stored response is signed again with the new
-- one: `resign_signer` is the signer that work is for, `resign_cursor` the last serial
-- done (NULL: all done), so the work resumes where it stopped, on any instance.
CREATE TABLE ocsp_work_leases (
    ca_name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    resign_signer TEXT,
    resign_cursor TEXT
);
-- Re-signing walks the stored responses by serial, skipping those signed by the new
-- signer already.
CREATE INDEX ocsp_responses_ca_serial ON ocsp_responses (ca_name, serial_hex);
-- The revocations whose first OCSP response is not recorded yet (第23条3, migration 13): the
-- signer loop looks for them on every pass.
CREATE INDEX cert_status_first_ocsp_pending ON cert_status (ca_name)
    WHERE status = 'revoked' AND first_ocsp_at IS NULL;
