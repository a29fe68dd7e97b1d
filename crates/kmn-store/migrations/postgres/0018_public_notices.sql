-- Notices on the association's home page (第24条: one of the ways the association gives
-- notice): published in the public repository, withdrawn but never deleted.
CREATE TABLE public_notices (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    published_by TEXT NOT NULL,
    withdrawn_at BIGINT,
    withdrawn_by TEXT,
    withdrawn_reason TEXT
);
CREATE INDEX public_notices_published_at ON public_notices (published_at);
