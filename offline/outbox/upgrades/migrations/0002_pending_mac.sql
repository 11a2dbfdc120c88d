-- pending.db schema 2: every pending item is authenticated, so an edited or
-- deleted upgrade record is detected by `stationdesk audit verify`.
-- mac: HMAC-SHA256 under the station's pending key (derived from the 0600
-- station key file, never stored here) over the item's id, key, kind,
-- operator, subject, state, created time and whether the sealed payload is
-- still there (integrity.go). pending_head holds the number of ids ever
-- given out, MACed, so ids run 1..n without a hole: a deleted item leaves a
-- hole (or a head that no longer verifies). pending_gone keeps a MACed
-- tombstone for each settled item the retention purge deleted.
ALTER TABLE pending ADD COLUMN mac BLOB;

CREATE TABLE pending_head (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    max_id INTEGER NOT NULL,
    mac    BLOB NOT NULL
);

CREATE TABLE pending_gone (
    id      INTEGER PRIMARY KEY,
    key     TEXT NOT NULL UNIQUE,
    state   TEXT NOT NULL,
    purged  INTEGER NOT NULL,
    mac     BLOB NOT NULL
);
