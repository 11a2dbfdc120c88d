-- ledger.db schema 1: operators, audit log, outbox.
-- Times are Unix milliseconds (UTC). See package ledger for the retention table.

CREATE TABLE operators (
	id              TEXT    PRIMARY KEY,
	display_name    TEXT    NOT NULL,            -- staff name: personal information, never audited
	role            TEXT    NOT NULL CHECK (role IN ('clerk', 'assistant', 'supervisor')),
	disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	kdf             TEXT    NOT NULL CHECK (kdf = 'argon2id'),
	kdf_time        INTEGER NOT NULL,            -- argon2id passes
	kdf_memory_kib  INTEGER NOT NULL,
	kdf_threads     INTEGER NOT NULL,
	pin_salt        BLOB    NOT NULL,            -- 16 random bytes
	pin_hash        BLOB    NOT NULL,            -- 32-byte argon2id output
	failed_attempts INTEGER NOT NULL DEFAULT 0,  -- consecutive wrong PINs (lock-out counter)
	locked_until_ms INTEGER NOT NULL DEFAULT 0,
	created_ms      INTEGER NOT NULL,
	pin_changed_ms  INTEGER NOT NULL,
	last_login_ms   INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Append-only, hash-chained: hash = HMAC-SHA256(audit key, prev_hash || canonical row).
CREATE TABLE audit_log (
	seq       INTEGER PRIMARY KEY,
	at_ms     INTEGER NOT NULL,
	operator  TEXT    NOT NULL,
	terminal  TEXT    NOT NULL,
	action    TEXT    NOT NULL,
	subject   TEXT    NOT NULL,   -- token or masked value, never a full ID number
	outcome   TEXT    NOT NULL,
	detail    TEXT    NOT NULL,
	prev_hash BLOB    NOT NULL,
	hash      BLOB    NOT NULL
) STRICT;
CREATE INDEX audit_log_at ON audit_log(at_ms);
CREATE INDEX audit_log_operator ON audit_log(operator, seq);

-- Where the chain starts after a retention purge (the last purged entry), MACed.
CREATE TABLE audit_anchor (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash BLOB    NOT NULL,
	mac  BLOB    NOT NULL
) STRICT;

-- The newest entry, MACed, so cutting entries off the end is detected.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash BLOB    NOT NULL,
	mac  BLOB    NOT NULL
) STRICT;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.seq > coalesce((SELECT seq FROM audit_anchor WHERE id = 1), 0)
BEGIN
	SELECT RAISE(ABORT, 'audit_log: only entries behind the retention anchor may be deleted');
END;

-- Store-and-forward items (sales, checks, pending bindings) for the central backend.
CREATE TABLE outbox (
	id              INTEGER PRIMARY KEY,
	kind            TEXT    NOT NULL,
	idem_key        TEXT    NOT NULL UNIQUE,     -- the Idempotency-Key sent to central
	body            BLOB    NOT NULL,            -- non-personal part (tokens, masked values)
	personal        BLOB,                        -- AES-256-GCM sealed personal fields; NULL after confirmation
	state           TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'confirmed', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	created_ms      INTEGER NOT NULL,
	updated_ms      INTEGER NOT NULL,
	next_attempt_ms INTEGER NOT NULL,
	done_ms         INTEGER NOT NULL DEFAULT 0   -- confirmed or failed at
) STRICT;
CREATE INDEX outbox_due ON outbox(state, next_attempt_ms, id);
CREATE INDEX outbox_done ON outbox(state, done_ms);
