-- The holder's emergency revocation form (第11条, issue 10 item 2): wrong codes per card
-- number as typed (normalised), whether or not such a card exists, so that an unknown
-- card and a wrong code get the same answer — and the same lockout after a few tries.
CREATE TABLE emergency_attempts (
    card_number TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_at BIGINT NOT NULL
);
