package store

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"stationdesk/app"
)

// TestDiskFull fills a 600 KiB tmpfs until SQLite reports SQLITE_FULL and
// checks that the failing transaction left nothing behind, that every
// earlier commit is intact, that writes keep failing with the classified
// error while the disk is full, and that they resume once space is freed.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mountTmpfs(t, dir, "size=600k")
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, bytes.Repeat([]byte{1}, 128<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.db")
	opts := Options{Migrations: migrationsFS(map[string]string{
		"0001_t.sql": "CREATE TABLE sale(tx INTEGER NOT NULL, n INTEGER NOT NULL, blob BLOB NOT NULL, PRIMARY KEY(tx, n))",
	})}
	db, err := Open(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()

	const perTx = 4
	insert := func(txn int) error {
		return db.WriteTx(ctx, func(tx *sql.Tx) error {
			for n := range perTx {
				if _, err := tx.Exec("INSERT INTO sale VALUES (?, ?, ?)", txn, n, bytes.Repeat([]byte{byte(txn)}, 6000)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	committed := 0
	var fullErr error
	for txn := 1; txn < 1000; txn++ {
		if err := insert(txn); err != nil {
			fullErr = err
			break
		}
		committed = txn
	}
	if fullErr == nil {
		t.Fatal("never ran out of space")
	}
	if app.ErrorCode(fullErr) != app.CodeUnavailable || app.ErrorReason(fullErr) != ReasonDiskFull {
		t.Fatalf("err = %v (reason %q), want unavailable/%s", fullErr, app.ErrorReason(fullErr), ReasonDiskFull)
	}
	if msg := app.UserMessage(fullErr, app.LangZH); !bytes.Contains([]byte(msg), []byte("磁盘已满")) {
		t.Errorf("zh message = %q", msg)
	}
	t.Logf("disk full after %d committed transactions: %v", committed, fullErr)

	check := func(db *DB, stage string) {
		t.Helper()
		var rows, txs, bad int
		if err := db.Read().QueryRow("SELECT count(*), count(DISTINCT tx), coalesce(sum(tx > ?), 0) FROM sale", committed).Scan(&rows, &txs, &bad); err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		if rows != committed*perTx || txs != committed || bad != 0 {
			t.Fatalf("%s: %d rows in %d transactions (%d from the failed one); want %d in %d", stage, rows, txs, bad, committed*perTx, committed)
		}
		if err := runCheck(ctx, db.Read(), path, true); err != nil {
			t.Fatalf("%s: integrity: %v", stage, err)
		}
	}
	check(db, "after failure")

	if err := insert(committed + 1); app.ErrorReason(err) != ReasonDiskFull {
		t.Fatalf("second write on a full disk: %v, want %s", err, ReasonDiskFull)
	}
	check(db, "after retry")

	db.Close() // may be unable to checkpoint; the WAL keeps the commits
	db, err = Open(ctx, path, opts)
	if err != nil {
		t.Fatalf("reopen on a full disk: %v", err)
	}
	check(db, "after reopen")

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := insert(committed + 1); err != nil {
		t.Fatalf("write after freeing space: %v", err)
	}
	committed++
	check(db, "after freeing space")
}
