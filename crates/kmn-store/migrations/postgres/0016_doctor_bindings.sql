-- The doctor registry (issue 11 item 3): a doctor (医師資格証 holder, 第4条) is bound to a
-- facility by the registered HPKI certificate — issuer Name (DER, hex), serial (hex) and
-- the SHA-256 of its SubjectPublicKeyInfo — never by a subject name. One row per
-- certificate per facility; states per kmn_domain::doctor.
CREATE TABLE doctor_bindings (
    id TEXT PRIMARY KEY,
    facility_code TEXT NOT NULL REFERENCES facilities(code),
    issuer_der_hex TEXT NOT NULL,
    issuer_text TEXT NOT NULL,
    serial_hex TEXT NOT NULL,
    spki_sha256 TEXT NOT NULL,
    cert_sha256 TEXT NOT NULL,
    cert_der BYTEA NOT NULL,
    subject_text TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    state TEXT NOT NULL,
    enrolled_by TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    confirmed_by TEXT,
    confirmed_person TEXT,
    confirmed_note TEXT,
    confirmed_at BIGINT,
    approved_by TEXT,
    approved_at BIGINT,
    closed_by TEXT,
    closed_at BIGINT,
    ended_on TEXT,
    close_reason TEXT,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL
);
-- The same certificate is open (enrolled, confirmed or active) at most once per facility.
CREATE UNIQUE INDEX doctor_bindings_one_open ON doctor_bindings (facility_code, issuer_der_hex, serial_hex)
    WHERE state IN ('enrolled', 'confirmed', 'active');
-- The gateway's lookup: by issuer and serial.
CREATE INDEX doctor_bindings_cert ON doctor_bindings (issuer_der_hex, serial_hex, state);
CREATE INDEX doctor_bindings_facility ON doctor_bindings (facility_code, id);
-- A binding never moves to another certificate or facility, and is kept.
CREATE FUNCTION kmn_doctor_binding_bound_forever() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.facility_code <> OLD.facility_code OR NEW.issuer_der_hex <> OLD.issuer_der_hex
       OR NEW.serial_hex <> OLD.serial_hex OR NEW.spki_sha256 <> OLD.spki_sha256 THEN
        RAISE EXCEPTION 'a doctor binding never moves to another certificate or facility';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER doctor_bindings_bound_forever BEFORE UPDATE ON doctor_bindings
FOR EACH ROW EXECUTE FUNCTION kmn_doctor_binding_bound_forever();
CREATE FUNCTION kmn_doctor_bindings_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'doctor bindings are kept';
END
$$;
CREATE TRIGGER doctor_bindings_kept BEFORE DELETE ON doctor_bindings
FOR EACH ROW EXECUTE FUNCTION kmn_doctor_bindings_kept();
