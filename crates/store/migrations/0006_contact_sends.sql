-- When each contact was last sent a page or reminder, for `[notify] rate_limit`: a window
-- kept here (not in one server's memory) holds across restarts and across replicas.
CREATE TABLE contact_sends (
    contact  TEXT NOT NULL,
    sent_ms  BIGINT NOT NULL
);
CREATE INDEX contact_sends_by_contact ON contact_sends (contact, sent_ms);
