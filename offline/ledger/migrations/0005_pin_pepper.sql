-- ledger.db schema 5: PIN hashes keyed with a secret outside this file.
-- The kdf column names the scheme: 'argon2id' (schema 1: argon2id over the
-- PIN alone) or 'argon2id+pepper1' (argon2id over HMAC-SHA256(the station's
-- PIN key, PIN); the key lives in the 0600 station key file, so a copied
-- ledger alone gives nothing to guess PINs against). Old rows keep their
-- scheme until their next successful login re-hashes them.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- with the same columns and values (the records' content hashes in the
-- audit chain stay valid) and its triggers are created again.

CREATE TABLE operators_v5 (
	id              TEXT    PRIMARY KEY,
	display_name    TEXT    NOT NULL,            -- staff name: personal information, never audited
	role            TEXT    NOT NULL CHECK (role IN ('clerk', 'assistant', 'supervisor')),
	disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	kdf             TEXT    NOT NULL CHECK (kdf IN ('argon2id', 'argon2id+pepper1')),
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

INSERT INTO operators_v5 (id, display_name, role, disabled, kdf, kdf_time, kdf_memory_kib, kdf_threads, pin_salt, pin_hash,
	failed_attempts, locked_until_ms, created_ms, pin_changed_ms, last_login_ms)
SELECT id, display_name, role, disabled, kdf, kdf_time, kdf_memory_kib, kdf_threads, pin_salt, pin_hash,
	failed_attempts, locked_until_ms, created_ms, pin_changed_ms, last_login_ms FROM operators;

DROP TABLE operators;
ALTER TABLE operators_v5 RENAME TO operators;

-- As in schema 4: the account, its role, state and PIN hash; not the
-- lock-out counters and last login, which change on every attempt.
CREATE TRIGGER operators_dirty_i AFTER INSERT ON operators BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('operators', NEW.id) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER operators_dirty_u AFTER UPDATE OF id, display_name, role, disabled, kdf, kdf_time, kdf_memory_kib, kdf_threads,
	pin_salt, pin_hash, created_ms, pin_changed_ms ON operators BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('operators', OLD.id), ('operators', NEW.id) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER operators_dirty_d AFTER DELETE ON operators BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('operators', OLD.id) ON CONFLICT DO UPDATE SET carry = NULL; END;
