-- Fewer indexes for every reply to update, when it is written and again when it is sent.
--
-- Replies (rows of no broadcast) stay out of the broadcast index: every query it serves
-- names a broadcast (`broadcast_id = $1`), which implies the index's condition.
DROP INDEX outbox_broadcast;
CREATE INDEX outbox_broadcast ON outbox(broadcast_id, status) WHERE broadcast_id IS NOT NULL;
-- The claims and the next-due reads go by account (`outbox_claim`); the outbox depth reads
-- the unfinished rows through `outbox_chat_order`, whose condition it repeats.
DROP INDEX outbox_due;
