-- Broadcast outcomes in the classes a leader reads: recipients the platform did not let us
-- reach now (outside its messaging window) are "skipped", not failures. Earlier broadcasts
-- counted them in `failed`; they are moved over from the outbox rows.
ALTER TABLE broadcasts ADD COLUMN skipped BIGINT NOT NULL DEFAULT 0;
UPDATE broadcasts SET skipped = (
    SELECT COUNT(*) FROM outbox o WHERE o.broadcast_id = broadcasts.id AND o.status = 'skipped'
);
UPDATE broadcasts SET failed = CASE WHEN failed > skipped THEN failed - skipped ELSE 0 END;
