-- no-transaction
-- Many accounts in one deployment (issue 12): a person belongs to one account (a Telegram bot,
-- a Zalo OA, a Messenger Page), named by its id. People from before accounts files belong to
-- their platform's single account, named after the platform.
--
-- A person's platform identity becomes (account, platform user id): one Telegram user who
-- talks to two bots is two people, each in the unit their bot serves. SQLite cannot change a
-- table's UNIQUE constraint, so `people` is rebuilt. With foreign keys on, renaming the new
-- table would rewrite, and dropping the old one would break, the references of `leaders` and
-- `link_codes`: the rebuild runs with foreign keys off (outside sqlx's transaction, in one of
-- its own; ids are kept, so every reference still holds), and can run again if it is cut
-- short before sqlx records it.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
DROP TABLE IF EXISTS people_new;
CREATE TABLE people_new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    platform            TEXT NOT NULL,
    platform_user_id    TEXT NOT NULL,
    chat_id             TEXT NOT NULL,
    display_name        TEXT NOT NULL DEFAULT '',
    locale              TEXT NOT NULL DEFAULT 'vi',
    unit_code           TEXT REFERENCES units(code),
    phone_kind          TEXT,
    state               TEXT NOT NULL DEFAULT '{"step":"idle"}',
    started             BIGINT NOT NULL DEFAULT 0,
    confirmed_at        BIGINT,
    verified_at         BIGINT,
    verified_by         BIGINT,
    opted_out           BIGINT NOT NULL DEFAULT 0,
    unreachable         BIGINT NOT NULL DEFAULT 0,
    unreachable_reason  TEXT,
    referred_by         BIGINT,
    referrals           BIGINT NOT NULL DEFAULT 0,
    ref_code            TEXT NOT NULL UNIQUE,
    linked_to           BIGINT,
    reminders_sent      BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL,
    last_activity_at    BIGINT NOT NULL,
    last_inbound_at     BIGINT NOT NULL,
    reminder_due_at     BIGINT,
    reminder_until      BIGINT,
    reminded_at         BIGINT,
    account             TEXT NOT NULL,
    UNIQUE (account, platform_user_id)
);
INSERT INTO people_new (id, platform, platform_user_id, chat_id, display_name, locale, unit_code,
    phone_kind, state, started, confirmed_at, verified_at, verified_by, opted_out, unreachable,
    unreachable_reason, referred_by, referrals, ref_code, linked_to, reminders_sent, created_at,
    last_activity_at, last_inbound_at, reminder_due_at, reminder_until, reminded_at, account)
SELECT id, platform, platform_user_id, chat_id, display_name, locale, unit_code,
    phone_kind, state, started, confirmed_at, verified_at, verified_by, opted_out, unreachable,
    unreachable_reason, referred_by, referrals, ref_code, linked_to, reminders_sent, created_at,
    last_activity_at, last_inbound_at, reminder_due_at, reminder_until, reminded_at, platform
FROM people;
DROP TABLE people;
ALTER TABLE people_new RENAME TO people;

CREATE INDEX people_unit ON people(unit_code, confirmed_at);
CREATE INDEX people_activity ON people(confirmed_at, opted_out, unreachable, last_activity_at);
CREATE INDEX people_reminders ON people(reminders_sent, last_activity_at);
CREATE INDEX people_confirmed_at ON people(confirmed_at);
CREATE INDEX people_chat ON people(account, chat_id);
CREATE INDEX people_linked ON people(linked_to);
CREATE INDEX people_reminder_due ON people(reminder_due_at);
CREATE INDEX people_reminder_until ON people(reminder_until);
CREATE INDEX people_reach ON people(unit_code, confirmed_at, linked_to, platform, opted_out, unreachable, started, last_inbound_at);

COMMIT;
PRAGMA foreign_keys = ON;
