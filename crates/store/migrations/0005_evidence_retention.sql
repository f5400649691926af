-- Evidence retention: legal holds (an incident's evidence bytes are kept while held) and
-- the incidents whose evidence bytes retention deleted. Ledger leaves are never deleted;
-- both changes are also ledger events (evidence.held, evidence.released, evidence.expired).
CREATE TABLE evidence_holds (
    incident_id  TEXT PRIMARY KEY REFERENCES incidents (id),
    reason       TEXT NOT NULL,
    held_by      TEXT NOT NULL,
    held_ms      BIGINT NOT NULL
);

CREATE TABLE evidence_expiry (
    incident_id    TEXT PRIMARY KEY REFERENCES incidents (id),
    expired_ms     BIGINT NOT NULL,
    blobs_deleted  BIGINT NOT NULL
);
