-- OCSP responses (issue 10 item 5, RFC 6960): signed ahead of the request — never on the
-- request path — one per certificate and CertID hash (SHA-1, SHA-256), kept here so that
-- every instance serves the same bytes. `status_version` is the `cert_status.updated_at`
-- the response was built from: a status change (revocation, hold, release) makes it
-- stale, and the signer loop signs a new one; `refresh_at` is half-way through the
-- response's validity.
CREATE TABLE ocsp_responses (
    serial_hex TEXT NOT NULL REFERENCES certificates(serial_hex),
    hash_alg TEXT NOT NULL CHECK (hash_alg IN ('sha1', 'sha256')),
    ca_name TEXT NOT NULL,
    status TEXT NOT NULL,
    status_version BIGINT NOT NULL,
    der BYTEA NOT NULL,
    produced_at BIGINT NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    refresh_at BIGINT NOT NULL,
    signer TEXT NOT NULL,
    -- When this row was written (not producedAt: a batch signed on an HSM may take
    -- seconds before it is stored): what other instances' caches go by.
    stored_at BIGINT NOT NULL,
    PRIMARY KEY (serial_hex, hash_alg)
);
CREATE INDEX ocsp_responses_refresh ON ocsp_responses (refresh_at);
-- What changed since a moment: each instance drops those from its in-memory cache.
CREATE INDEX ocsp_responses_stored ON ocsp_responses (stored_at);
