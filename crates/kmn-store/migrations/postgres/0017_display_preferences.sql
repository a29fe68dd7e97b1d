-- The portal's display preference per account (issue 12): dates in the Western calendar
-- (2026年12月2日, the default) or with the Japanese era (令和8年12月2日).
CREATE TABLE display_preferences (
    account_id TEXT PRIMARY KEY,
    date_style TEXT NOT NULL CHECK (date_style IN ('western', 'era')),
    updated_at BIGINT NOT NULL
);
