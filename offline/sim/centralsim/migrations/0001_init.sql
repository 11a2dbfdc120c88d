-- The central simulator's own database. It stands in for the city's backend,
-- so it holds identity records; even so it keeps no full document number or
-- name: persons are found by doc_key (HMAC of type and number with the
-- simulator's key) and shown by masked copies.
CREATE TABLE persons (
    id            INTEGER PRIMARY KEY,
    demo_key      TEXT UNIQUE,              -- demo rider key; NULL for persons created by a binding
    doc_key       TEXT NOT NULL UNIQUE,
    doc_type      TEXT NOT NULL,
    doc_masked    TEXT NOT NULL,
    name_masked   TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '', -- demo phone (verification codes derive from it)
    color         TEXT NOT NULL DEFAULT 'none',
    last_negative INTEGER,                  -- unix ms of the last negative NAT, NULL if none
    health_as_of  INTEGER NOT NULL,
    welfare       TEXT NOT NULL DEFAULT 'none'
);

CREATE TABLE cards (
    number   TEXT PRIMARY KEY,
    kind     TEXT NOT NULL,
    form     TEXT NOT NULL,
    city     TEXT NOT NULL DEFAULT '',
    owner_id INTEGER REFERENCES persons(id) -- special cards: the person they are auto-bound to
);

CREATE TABLE bindings (
    card_number    TEXT PRIMARY KEY REFERENCES cards(number),
    person_id      INTEGER NOT NULL REFERENCES persons(id),
    form           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    auto           INTEGER NOT NULL DEFAULT 0,
    helper_doc_key TEXT,
    bound_at       INTEGER NOT NULL
);
-- One ordinary physical and one ordinary NFC card per person (DESIGN §2).
CREATE UNIQUE INDEX bindings_one_per_form ON bindings(person_id, form) WHERE auto = 0;
CREATE INDEX bindings_person ON bindings(person_id);

-- Every proxy binding a helper made; unbinding does not give a use back.
CREATE TABLE proxy_uses (
    id             INTEGER PRIMARY KEY,
    helper_doc_key TEXT NOT NULL,
    card_number    TEXT NOT NULL,
    at             INTEGER NOT NULL
);
CREATE INDEX proxy_uses_helper ON proxy_uses(helper_doc_key);

-- Stored answers of successful keyed POSTs.
CREATE TABLE idempotency (
    station    TEXT NOT NULL,
    key        TEXT NOT NULL,
    route      TEXT NOT NULL,
    body_hash  TEXT NOT NULL,
    status     INTEGER NOT NULL,
    response   BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (station, key)
) WITHOUT ROWID;

-- Change feed for the gate-cache sync publisher: a card row (card_number set)
-- on bind/unbind, a person row (card_number NULL) on a health change.
CREATE TABLE changes (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    card_number   TEXT,
    person_id     INTEGER NOT NULL,
    bound         INTEGER NOT NULL DEFAULT 0,
    color         TEXT,
    last_negative INTEGER
);

CREATE TABLE records (
    kind        TEXT NOT NULL,   -- sale, manual_check
    station     TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    body        BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (kind, station, record_id)
) WITHOUT ROWID;

CREATE TABLE gate_events (
    station TEXT NOT NULL,
    id      INTEGER NOT NULL,
    body    BLOB NOT NULL,
    PRIMARY KEY (station, id)
) WITHOUT ROWID;
