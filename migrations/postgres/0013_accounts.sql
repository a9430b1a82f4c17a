-- Many accounts in one deployment (issue 12): a person, a chat and an outbox row belong to
-- one account (a Telegram bot, a Zalo OA, a Messenger Page), named by its id. Rows written
-- before accounts files belong to their platform's single account, named after the platform.
--
-- A person's platform identity becomes (account, platform user id): one Telegram user who
-- talks to two bots is two people, each in the unit their bot serves.
ALTER TABLE people ADD COLUMN account TEXT;
UPDATE people SET account = platform;
ALTER TABLE people ALTER COLUMN account SET NOT NULL;
ALTER TABLE people DROP CONSTRAINT people_platform_platform_user_id_key;
ALTER TABLE people ADD CONSTRAINT people_account_platform_user_id_key UNIQUE (account, platform_user_id);
DROP INDEX people_chat;
CREATE INDEX people_chat ON people(account, chat_id);
