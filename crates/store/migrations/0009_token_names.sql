-- A token's name is the actor the timeline records for everything done with it, so two
-- tokens must never share one, not even differing in case ("Alice" and "alice"). Revoked
-- tokens keep their names: a name on the timeline stays one token's for good.
--
-- Databases made before this index may hold such duplicates. The oldest token keeps its
-- name; every later one is renamed to `name~id` (its full id, so the new name is unique
-- too) and keeps working under that name. `sitrep token list` shows the new names.
UPDATE api_tokens SET name = name || '~' || id
WHERE EXISTS (
    SELECT 1 FROM api_tokens AS older
    WHERE lower(older.name) = lower(api_tokens.name)
      AND (older.created_ms < api_tokens.created_ms
           OR (older.created_ms = api_tokens.created_ms AND older.id < api_tokens.id))
);
CREATE UNIQUE INDEX api_tokens_name_lower ON api_tokens (lower(name));
