-- Reach (issue 11): what a leader chose to spend on a broadcast ('free', 'billed',
-- 'paid_speed'), and what billed messages have cost per account and period (a calendar
-- month for Zalo's budget, one broadcast for Telegram's Stars). A message's price is
-- reserved here before it is sent, so a crash can leave a budget under-spent, never over.
ALTER TABLE broadcasts ADD COLUMN spend TEXT NOT NULL DEFAULT 'free';
CREATE TABLE spend_ledger (
    account TEXT NOT NULL,
    period  TEXT NOT NULL,
    spent   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account, period)
);
