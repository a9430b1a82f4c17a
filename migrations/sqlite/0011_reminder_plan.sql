-- Reminders inside the free windows (issue 11): each person's next reminder is planned once
-- (per platform, inside their free window and the daytime window) and queued when due.
-- reminder_due_at: when it is due (NULL: not planned yet; the largest BIGINT: nothing left
-- until the person is active again). reminder_until: the last moment it may still be queued
-- (the free window's close, less a lead). reminded_at: when the last reminder was queued, so
-- the next one is never placed on top of it.
ALTER TABLE people ADD COLUMN reminder_due_at BIGINT;
ALTER TABLE people ADD COLUMN reminder_until BIGINT;
ALTER TABLE people ADD COLUMN reminded_at BIGINT;
CREATE INDEX people_reminder_due ON people(reminder_due_at);
CREATE INDEX people_reminder_until ON people(reminder_until);
