-- CRLs in the database (issue 10 item 4, 第16条, DESIGN §7): the newest CRL of each CA
-- keeps its DER beside its record, so that every `kmn serve` instance (on any host) writes
-- it into its own repository; older rows keep their record and hash, not their bytes.
ALTER TABLE crls ADD COLUMN der BYTEA;

-- Wakes every instance's CRL publisher at the commit of a status change (revocation, hold,
-- release, a certificate issued on hold) and of a published CRL, whoever made it: the API,
-- another instance, a CLI process. The payload names the schema, since notification
-- channels are per database, not per schema.
CREATE FUNCTION kmn_crl_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kmn_crl', current_schema() || ' ' || TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER cert_status_crl_wake AFTER INSERT OR UPDATE OF status ON cert_status
FOR EACH STATEMENT EXECUTE FUNCTION kmn_crl_wake();
CREATE TRIGGER crls_crl_wake AFTER INSERT ON crls
FOR EACH STATEMENT EXECUTE FUNCTION kmn_crl_wake();
