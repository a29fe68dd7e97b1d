-- Operator tokens (issue 9 item 3, MHLW guideline G2: possession and knowledge).
-- Support-center staff log in with an operator certificate whose key was generated on a
-- token at personalization (`kmn account enrol`); the account keeps the token's serial,
-- so `kmn account list` can say where the key lives and the station refuses to
-- initialise a token that carries a live account's key.
ALTER TABLE accounts ADD COLUMN token_serial TEXT;
CREATE INDEX accounts_token_serial ON accounts (token_serial);
