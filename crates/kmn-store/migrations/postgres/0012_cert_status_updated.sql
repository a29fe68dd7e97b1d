-- The OCSP signer loop looks at recent status changes by `updated_at` (issue 10): an index
-- range instead of a scan of every certificate every 100 ms.
CREATE INDEX cert_status_updated ON cert_status (ca_name, updated_at);
