-- Silences made through the API (configured ones live in the config file). The body is
-- the silence as JSON; the ledger records who created and removed each.
CREATE TABLE silences (
    id          TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);
