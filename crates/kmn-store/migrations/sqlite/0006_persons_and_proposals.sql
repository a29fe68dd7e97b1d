-- Persons and dual control (issue 9 item 1). An account is bound to the person who holds
-- it, so that one person with two certificates (two accounts) is still one person: a
-- desk account's person is the holder it was made for, support-center staff give one at
-- `kmn account add --person`; an account made before this migration is its own person.
ALTER TABLE accounts ADD COLUMN person_id TEXT;
UPDATE accounts SET person_id = COALESCE(holder_id, id) WHERE person_id IS NULL;

-- A change one person may not make alone: proposed by one person, approved or rejected
-- by a different person with the supervisor's right, bound to the SHA-256 of its
-- canonical content, expiring. Transitions are compare-and-set on `state`.
CREATE TABLE proposals (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('proposed', 'approved', 'rejected', 'expired')),
    proposed_by TEXT NOT NULL,
    proposed_by_person TEXT NOT NULL,
    proposed_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_by_person TEXT,
    decided_at BIGINT,
    note TEXT
);
CREATE INDEX proposals_state ON proposals (state, expires_at);
