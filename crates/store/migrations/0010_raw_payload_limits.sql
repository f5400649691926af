-- Raw alert payloads expire (issue 14, point 5): rejected ones (answered 4xx, they did not
-- parse) sooner than accepted ones, and a cap on their total bytes evicts the oldest first,
-- rejected before accepted. `size` is the body's length in bytes, kept so the total and the
-- eviction order are read from an index instead of from the bodies. Rows made before this
-- migration count as accepted: they are kept the longer time, never dropped too early.
ALTER TABLE raw_payloads ADD COLUMN outcome TEXT NOT NULL DEFAULT 'accepted';
ALTER TABLE raw_payloads ADD COLUMN size BIGINT NOT NULL DEFAULT 0;
UPDATE raw_payloads SET size = length(body);
CREATE INDEX raw_payloads_by_age ON raw_payloads (outcome, received_ms, id);
