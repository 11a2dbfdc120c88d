-- ledger.db schema 2: the ticket window (issue 5): shifts, sales, manual checks and the
-- station's last health status per document token. Times are Unix milliseconds (UTC).
-- Buyers appear only as keyed hashes (token) and masked documents; health details are sealed.

CREATE TABLE shifts (
	id        INTEGER PRIMARY KEY,
	terminal  TEXT    NOT NULL,
	operator  TEXT    NOT NULL,
	opened_ms INTEGER NOT NULL,
	closed_ms INTEGER NOT NULL DEFAULT 0,
	closed_by TEXT    NOT NULL DEFAULT ''
) STRICT;
-- One open shift per terminal.
CREATE UNIQUE INDEX shifts_open ON shifts(terminal) WHERE closed_ms = 0;

-- A sale is written (issuing) before the ticket is written onto the token, then marked issued.
CREATE TABLE sales (
	idem_key     TEXT    PRIMARY KEY,            -- made at the ID read: one purchase, one ticket
	kind         TEXT    NOT NULL CHECK (kind IN ('single_journey', 'welfare')),
	state        TEXT    NOT NULL CHECK (state IN ('issuing', 'issued', 'issue_failed', 'void')),
	operator     TEXT    NOT NULL,
	terminal     TEXT    NOT NULL,
	shift_id     INTEGER NOT NULL REFERENCES shifts(id),
	buyer_token  TEXT    NOT NULL,               -- HMAC of the document (blind index)
	buyer_masked TEXT    NOT NULL,
	dest_code    TEXT    NOT NULL DEFAULT '',
	dest_name    TEXT    NOT NULL DEFAULT '',
	fare_fen     INTEGER NOT NULL CHECK (fare_fen > 0),
	payment      TEXT    NOT NULL CHECK (payment IN ('cash', 'mobile', 'bank_card', 'welfare')),
	assisted     INTEGER NOT NULL DEFAULT 0 CHECK (assisted IN (0, 1)),
	override_by  TEXT    NOT NULL DEFAULT '',
	token_serial TEXT    NOT NULL DEFAULT '',
	valid_until_ms INTEGER NOT NULL DEFAULT 0,
	created_ms   INTEGER NOT NULL,
	updated_ms   INTEGER NOT NULL,
	issued_ms    INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT    NOT NULL DEFAULT ''
) STRICT;
-- A token carries one ticket.
CREATE UNIQUE INDEX sales_token_issued ON sales(token_serial) WHERE state = 'issued';
CREATE INDEX sales_shift ON sales(shift_id, state);
CREATE INDEX sales_state ON sales(state, created_ms);

CREATE TABLE manual_checks (
	idem_key       TEXT    PRIMARY KEY,
	operator       TEXT    NOT NULL,
	terminal       TEXT    NOT NULL,
	shift_id       INTEGER NOT NULL REFERENCES shifts(id),
	subject_token  TEXT    NOT NULL,
	subject_masked TEXT    NOT NULL,
	decision       TEXT    NOT NULL CHECK (decision IN ('pass', 'refuse')),
	reason         TEXT    NOT NULL,
	nat_window     TEXT    NOT NULL CHECK (nat_window IN ('inside', 'outside', 'future', 'none')),
	shown          BLOB,                          -- AES-256-GCM sealed: colour shown, test time, issuer
	checked_ms     INTEGER NOT NULL
) STRICT;
CREATE INDEX manual_checks_shift ON manual_checks(shift_id);
CREATE INDEX manual_checks_time ON manual_checks(checked_ms);

-- The last health status central gave for a document token (sealed); used when the link is down.
CREATE TABLE health_cache (
	token    TEXT    PRIMARY KEY,
	sealed   BLOB    NOT NULL,
	as_of_ms INTEGER NOT NULL,
	saved_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX health_cache_saved ON health_cache(saved_ms);

CREATE INDEX outbox_kind_due ON outbox(kind, state, next_attempt_ms, id);
