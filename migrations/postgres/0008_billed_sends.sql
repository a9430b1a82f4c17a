-- Billed sends (issue 11): what a billed outbox row costs and the budget period it was
-- reserved in. The price is reserved in spend_ledger and written here before the message is
-- sent, so a row claimed again after a crash is not reserved twice, a refusal gives back
-- exactly what was reserved, and a broadcast's summary can add up what it cost.
ALTER TABLE outbox ADD COLUMN cost BIGINT;
ALTER TABLE outbox ADD COLUMN cost_period TEXT;
