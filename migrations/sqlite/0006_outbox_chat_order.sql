-- Each chat's messages go in the order they were queued: a row is sent only when no earlier
-- row to the same chat is still waiting or being sent. This index answers "is there an
-- earlier unfinished row to this chat?" without scanning the queue.
CREATE INDEX outbox_chat_order ON outbox(platform, chat_id, id) WHERE status IN ('queued', 'sending');
