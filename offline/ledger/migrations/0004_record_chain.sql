-- ledger.db schema 4: the records that matter are covered by the audit chain.
-- Each audit entry lists the records its transaction wrote, with a SHA-256 of
-- each record's canonical encoding (empty when the record was deleted); the
-- entry's chain hash covers that list. Editing or deleting a sale, manual
-- check, shift, operator account or forwarded item therefore breaks Verify.

CREATE TABLE audit_records (
	seq     INTEGER NOT NULL,   -- the audit entry
	tbl     TEXT    NOT NULL,
	rec_key TEXT    NOT NULL,   -- the record's key (idem_key, id): never personal data
	hash    BLOB    NOT NULL,   -- SHA-256 of the canonical record; empty: deleted
	PRIMARY KEY (tbl, rec_key, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX audit_records_seq ON audit_records(seq);

CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN
	SELECT RAISE(ABORT, 'audit_records is append-only');
END;
CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
WHEN OLD.seq > coalesce((SELECT seq FROM audit_anchor WHERE id = 1), 0)
BEGIN
	SELECT RAISE(ABORT, 'audit_records: only entries behind the retention anchor may be deleted');
END;

-- Records written by the current transaction, not yet in an audit entry.
-- Filled by the triggers below; the ledger empties it when it appends the
-- transaction's audit entry. carry: a hash carried forward from purged
-- audit entries (retention), used instead of re-reading the record.
CREATE TABLE audit_dirty (
	tbl     TEXT NOT NULL,
	rec_key TEXT NOT NULL,
	carry   BLOB,
	PRIMARY KEY (tbl, rec_key)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER sales_dirty_i AFTER INSERT ON sales BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('sales', NEW.idem_key) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER sales_dirty_u AFTER UPDATE ON sales BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('sales', OLD.idem_key), ('sales', NEW.idem_key) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER sales_dirty_d AFTER DELETE ON sales BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('sales', OLD.idem_key) ON CONFLICT DO UPDATE SET carry = NULL; END;

CREATE TRIGGER manual_checks_dirty_i AFTER INSERT ON manual_checks BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('manual_checks', NEW.idem_key) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER manual_checks_dirty_u AFTER UPDATE ON manual_checks BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('manual_checks', OLD.idem_key), ('manual_checks', NEW.idem_key) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER manual_checks_dirty_d AFTER DELETE ON manual_checks BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('manual_checks', OLD.idem_key) ON CONFLICT DO UPDATE SET carry = NULL; END;

CREATE TRIGGER shifts_dirty_i AFTER INSERT ON shifts BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('shifts', CAST(NEW.id AS TEXT)) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER shifts_dirty_u AFTER UPDATE ON shifts BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('shifts', CAST(OLD.id AS TEXT)), ('shifts', CAST(NEW.id AS TEXT)) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER shifts_dirty_d AFTER DELETE ON shifts BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('shifts', CAST(OLD.id AS TEXT)) ON CONFLICT DO UPDATE SET carry = NULL; END;

-- Operators: the account, its role, state and PIN hash; not the lock-out
-- counters and last login, which change on every attempt.
CREATE TRIGGER operators_dirty_i AFTER INSERT ON operators BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('operators', NEW.id) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER operators_dirty_u AFTER UPDATE OF id, display_name, role, disabled, kdf, kdf_time, kdf_memory_kib, kdf_threads,
	pin_salt, pin_hash, created_ms, pin_changed_ms ON operators BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('operators', OLD.id), ('operators', NEW.id) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER operators_dirty_d AFTER DELETE ON operators BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('operators', OLD.id) ON CONFLICT DO UPDATE SET carry = NULL; END;

-- Forwarded items: what is sent (kind, key, body) and when it was queued;
-- not the delivery state, which the forwarder updates on every attempt.
CREATE TRIGGER outbox_dirty_i AFTER INSERT ON outbox BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('outbox', NEW.idem_key) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER outbox_dirty_u AFTER UPDATE OF kind, idem_key, body, created_ms ON outbox BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('outbox', OLD.idem_key), ('outbox', NEW.idem_key) ON CONFLICT DO UPDATE SET carry = NULL; END;
CREATE TRIGGER outbox_dirty_d AFTER DELETE ON outbox BEGIN
	INSERT INTO audit_dirty(tbl, rec_key) VALUES ('outbox', OLD.idem_key) ON CONFLICT DO UPDATE SET carry = NULL; END;

-- Existing records are adopted by the first audit entry after this
-- migration (ledger.adopt), written by the program right after it.
INSERT INTO audit_dirty(tbl, rec_key) SELECT 'sales', idem_key FROM sales;
INSERT INTO audit_dirty(tbl, rec_key) SELECT 'manual_checks', idem_key FROM manual_checks;
INSERT INTO audit_dirty(tbl, rec_key) SELECT 'shifts', CAST(id AS TEXT) FROM shifts;
INSERT INTO audit_dirty(tbl, rec_key) SELECT 'operators', id FROM operators;
INSERT INTO audit_dirty(tbl, rec_key) SELECT 'outbox', idem_key FROM outbox;
