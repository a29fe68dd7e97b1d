-- CRLs in the database (issue 10 item 4, 第16条, DESIGN §7): the newest CRL of each CA
-- keeps its DER beside its record, so that every `kmn serve` instance writes it into its
-- own repository; older rows keep their record and hash, not their bytes. (SQLite has no
-- LISTEN/NOTIFY: the publisher polls every 200 ms.)
ALTER TABLE crls ADD COLUMN der BLOB;
