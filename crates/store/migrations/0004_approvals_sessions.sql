-- Run approvals (a second person for a gated run) and browser sessions. Both lived in one
-- server's memory; stored here they survive restarts and every replica sees them.
CREATE TABLE approvals (
    id            TEXT PRIMARY KEY,
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    -- The approval as JSON (runbook, step, redacted values and command, reason, people);
    -- app interprets it, the store keeps it.
    body          TEXT NOT NULL,
    requested_ms  BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL,
    -- The run that used it up; an approval is used at most once.
    used_run      TEXT,
    version       BIGINT NOT NULL
);
CREATE INDEX approvals_by_incident ON approvals (incident_id, requested_ms);

-- A session cookie's value is never stored, only its SHA-256.
CREATE TABLE sessions (
    id_sha256     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    token_sha256  TEXT NOT NULL,
    csrf          TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_ms);
