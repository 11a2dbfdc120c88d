-- Pending upgrades (binds and unbinds saved while central was unreachable).
-- payload is the sealed request (documents in clear inside, AES-GCM with
-- AAD pending|payload|key); it is set to NULL when the item is settled.
CREATE TABLE pending (
    id       INTEGER PRIMARY KEY,
    key      TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,
    operator TEXT NOT NULL,
    subject  TEXT NOT NULL,
    payload  BLOB,
    state    TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'confirmed', 'refused')),
    reason   TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL,
    next_try INTEGER NOT NULL
);
CREATE INDEX pending_due ON pending(state, next_try, id);
