CREATE TABLE gate_event (
  id            INTEGER PRIMARY KEY,
  gate_id       TEXT    NOT NULL,
  request_id    TEXT    NOT NULL,
  ts_ms         INTEGER NOT NULL,
  medium        TEXT    NOT NULL,
  card_hash     TEXT    NOT NULL,
  decision      TEXT    NOT NULL,
  reason        TEXT    NOT NULL,
  mode          TEXT    NOT NULL,
  cache_version INTEGER NOT NULL,
  latency_us    INTEGER NOT NULL,
  UNIQUE (gate_id, request_id)
);
CREATE TABLE upload_state (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  uploaded_upto INTEGER NOT NULL,
  uploaded      INTEGER NOT NULL,
  last_upload_ms INTEGER NOT NULL
);
INSERT INTO upload_state VALUES (1, 0, 0, 0);
