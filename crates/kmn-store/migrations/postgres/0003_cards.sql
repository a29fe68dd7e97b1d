-- Cards: the emergency revocation code (第11条), kept only as a salted hash.
ALTER TABLE cards ADD COLUMN revocation_code_hash TEXT;
