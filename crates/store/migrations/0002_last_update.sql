-- When the incident's last status update (a note) was posted: reminders to post the next
-- one count from here, not from the declaration.
ALTER TABLE incidents ADD COLUMN last_update_ms BIGINT;
