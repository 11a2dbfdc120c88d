// Package store opens StationDesk's SQLite files (modernc.org/sqlite, pure
// Go) with the settings of docs/storage-privacy.md "SQLite settings", applies embedded migrations, refuses to
// run on a damaged file, and classifies SQLite failures into app error codes.
//
// Every file gets one writer connection (database/sql pool capped at one, so
// writes are serialised in-process and BEGIN IMMEDIATE never deadlocks on a
// lock upgrade) and a read-only pool beside it (SQLite "mode=ro" plus
// PRAGMA query_only), so readers never wait for the writer in WAL mode.
//
// # Pragma order
//
// The driver (modernc.org/sqlite v1.61.1, sqlite.go applyQueryParams) runs
// DSN settings in a fixed order: _busy_timeout, _auto_vacuum, then every
// _pragma value sorted busy_timeout-first and the rest in lexicographic
// order, then the shorthand keys _foreign_keys, _journal_mode, _synchronous,
// and _query_only last. "journal_mode" sorts before "page_size", so a DSN
// carrying _pragma=journal_mode(WAL)&_pragma=page_size(N) switches the file
// to WAL first, after which SQLite silently ignores the page size (a test,
// TestDriverPragmaOrderPitfall, pins this down). We therefore put only the
// per-connection settings in the DSN (busy_timeout, which the driver always
// runs first, foreign_keys, synchronous, journal_size_limit) and set the two
// persistent file properties ourselves on the writer, in this order, right
// after open: PRAGMA page_size = N, then PRAGMA journal_mode = WAL (checked).
// page_size only takes effect on a new, empty file; an existing file keeps
// its page size.
//
// # Damage
//
// Before anything writes to an existing file, Open runs PRAGMA quick_check
// (or integrity_check, Options.IntegrityCheck) on a read-only connection. A
// damaged file yields an *app.Error with CodeInternal and reason
// "db_damaged" naming the file; the file is never repaired, overwritten or
// deleted. Callers whose data can be rebuilt (the gate cache) may call
// Quarantine to move it aside and open a fresh file; the ledger must not.
//
// # Errors
//
// Open and WriteTx return *app.Error values for the conditions an operator
// can act on: disk full (CodeUnavailable "disk_full"), damaged file
// (CodeInternal "db_damaged"), missing data folder (CodeInvalid
// "data_dir_missing"), path is a folder (CodeInvalid "db_path_is_dir"),
// folder or file not writable (CodeUnavailable "data_dir_unwritable"), file
// from a newer StationDesk (CodeInternal "db_too_new"), busy
// (CodeUnavailable "db_busy"). Messages carry the file path and never row
// contents.
package store
