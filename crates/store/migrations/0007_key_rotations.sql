-- Key rotations are ledger entries like any other; the store reads them on every open to
-- learn which keys signed older checkpoints. A partial index keeps that read small on a
-- large log and costs nothing for other events.
CREATE INDEX ledger_entries_key_rotations ON ledger_entries (leaf_index)
    WHERE event_type = 'ledger.key_rotated';
