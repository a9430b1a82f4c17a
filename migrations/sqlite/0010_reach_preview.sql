-- Reach preview (issue 11): what queueing a broadcast decided, so its summary reports the
-- same classes as its preview: recipients queued at a price and what they were planned to
-- cost, and people of the audience not queued because they blocked the bot, unfollowed,
-- left or opted out.
ALTER TABLE broadcasts ADD COLUMN billed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE broadcasts ADD COLUMN billed_cost BIGINT NOT NULL DEFAULT 0;
ALTER TABLE broadcasts ADD COLUMN excluded BIGINT NOT NULL DEFAULT 0;
