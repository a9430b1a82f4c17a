-- Many accounts in one deployment (issue 12): each outbox row goes out through its account;
-- each account's sender claims its own rows, in each chat's order. Rows from before accounts
-- files belong to their platform's single account, named after the platform.
ALTER TABLE outbox ADD COLUMN account TEXT NOT NULL DEFAULT '';
UPDATE outbox SET account = platform;
DROP INDEX outbox_claim;
CREATE INDEX outbox_claim ON outbox(account, status, priority, is_group DESC, next_attempt_at, id);
DROP INDEX outbox_chat_order;
CREATE INDEX outbox_chat_order ON outbox(account, chat_id, id) WHERE status IN ('queued', 'sending');

-- A linked group is reached through the account that was in it when it was linked.
ALTER TABLE member_groups ADD COLUMN account TEXT NOT NULL DEFAULT '';
UPDATE member_groups SET account = platform;
