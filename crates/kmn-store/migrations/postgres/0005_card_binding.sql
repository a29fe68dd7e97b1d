-- Card binding (issue 8): a certificate is on at most one card, a token is in at most one
-- live card (UNIQUE among cards that are not destroyed or terminated: a token from a
-- destroyed card may be personalized again), and every card certificate issued for an
-- application is recorded with the account it was issued to and the card id the center
-- allocated, so a station can bind or abort only its own. `kmn` checks for duplicates
-- before applying this and refuses with their list (crates/kmn-store/src/migrate.rs).
CREATE UNIQUE INDEX cards_cert_serial_unique ON cards (cert_serial_hex);
CREATE UNIQUE INDEX cards_live_token_serial_unique ON cards (token_serial)
    WHERE token_serial IS NOT NULL AND state NOT IN ('destroyed', 'terminated');

CREATE TABLE card_issuances (
    serial_hex TEXT PRIMARY KEY REFERENCES certificates(serial_hex),
    application_id TEXT NOT NULL REFERENCES applications(id),
    issued_to TEXT NOT NULL,
    card_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('unbound', 'bound', 'withdrawn')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX card_issuances_one_unbound ON card_issuances (application_id)
    WHERE state = 'unbound';
