-- The newest signed ledger checkpoint of each station (its audit-chain head),
-- sent by the desk with its forwarded records. The public key is pinned at a
-- station's first checkpoint; a later checkpoint must be signed by it and may
-- not go back (a lower seq means the station's ledger was rolled back).
CREATE TABLE checkpoints (
    station     TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    written     TEXT NOT NULL,
    sig         TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
