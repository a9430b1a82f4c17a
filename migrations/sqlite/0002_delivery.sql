-- Delivery engine (SQLite): broadcasts with their audit trail and live figures, and the
-- indexes the sender and the schedulers need.

-- One row per broadcast, from the draft a leader is previewing to the final figures. The row
-- is the audit trail (author, unit, audience, text) and the single place progress is read
-- from: the sender adds to sent/failed/unreachable in the transaction that marks the rows.
CREATE TABLE broadcasts (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id           BIGINT NOT NULL,
    author              TEXT NOT NULL,
    unit_code           TEXT NOT NULL,
    audience            TEXT NOT NULL DEFAULT 'all',
    text                TEXT NOT NULL,
    payload             TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'draft',
    total               BIGINT NOT NULL DEFAULT 0,
    sent                BIGINT NOT NULL DEFAULT 0,
    failed              BIGINT NOT NULL DEFAULT 0,
    unreachable         BIGINT NOT NULL DEFAULT 0,
    cancelled           BIGINT NOT NULL DEFAULT 0,
    progress_outbox_id  BIGINT,
    last_progress_at    BIGINT NOT NULL DEFAULT 0,
    last_progress_done  BIGINT NOT NULL DEFAULT -1,
    created_at          BIGINT NOT NULL,
    queued_at           BIGINT,
    finished_at         BIGINT
);
CREATE INDEX broadcasts_status ON broadcasts(status, id);
CREATE INDEX broadcasts_author ON broadcasts(author_id, id);

-- Claiming reads one platform's rows of one status in send order: by priority, groups
-- first (their per-minute windows should start early, not at the end of a broadcast), then
-- by due time.
CREATE INDEX outbox_claim ON outbox(platform, status, priority, is_group DESC, next_attempt_at, id);
-- Reminders look for people who started but did not confirm, by unit.
CREATE INDEX people_reminders ON people(reminders_sent, last_activity_at);
CREATE INDEX people_confirmed_at ON people(confirmed_at);
