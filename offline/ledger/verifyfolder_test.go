package ledger

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"stationdesk/app"
	"stationdesk/offline/store"
)

// folderState is every file in dir with its bytes and mode, to prove a
// check changed nothing.
func folderState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		out[e.Name()] = fmt.Sprintf("%v %x", st.Mode(), b)
	}
	return out
}

func sameFolder(t *testing.T, dir string, before map[string]string) {
	t.Helper()
	after := folderState(t, dir)
	for name, v := range before {
		if after[name] != v {
			t.Errorf("%s changed (or vanished)", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s was created", name)
		}
	}
}

func appendL(t *testing.T, l *Ledger, n int) {
	t.Helper()
	for i := range n {
		if err := l.Append(context.Background(), app.AuditEntry{Operator: "1001", Action: app.ActTicketSale,
			Subject: fmt.Sprintf("tok-%d", i), Outcome: app.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVerifyFolderZeroByteLedger: a ledger truncated to 0 bytes is a
// broken chain ("ledger_empty"), and the check does not recreate the
// schema in it (it used to: the evidence changed) nor create any file.
func TestVerifyFolderZeroByteLedger(t *testing.T) {
	f := newFixture(t)
	appendL(t, f.l, 3)
	f.l.Close()
	f.l = nil
	if err := os.Truncate(f.path, 0); err != nil {
		t.Fatal(err)
	}
	os.Remove(f.path + "-wal")
	os.Remove(f.path + "-shm")
	before := folderState(t, f.dir)
	res, err := VerifyFolder(context.Background(), f.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.Reason != "ledger_empty" {
		t.Fatalf("0-byte ledger: %+v, want broken ledger_empty", res)
	}
	sameFolder(t, f.dir, before)
	if st, _ := os.Stat(f.path); st.Size() != 0 {
		t.Fatalf("ledger is %d bytes after the check, want 0", st.Size())
	}
}

// TestVerifyFolderReadOnlyCopy: a copy in a 0500 folder with 0400 files
// verifies, and nothing in the folder changes byte for byte — for a
// cleanly closed ledger, for a running desk's files (ledger, -wal and
// -shm) and for a killed desk's ledger and -wal without -shm.
func TestVerifyFolderReadOnlyCopy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	appendL(t, f.l, 5)

	copyTo := func(t *testing.T, suffixes ...string) string {
		dst := t.TempDir()
		for _, name := range []string{KeyFileName} {
			b, err := os.ReadFile(filepath.Join(f.dir, name))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dst, name), b, 0o400)
		}
		for _, s := range suffixes {
			b, err := os.ReadFile(f.path + s)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, FileName+s), b, 0o400); err != nil {
				t.Fatal(err)
			}
		}
		os.Chmod(dst, 0o500)
		t.Cleanup(func() { os.Chmod(dst, 0o700) })
		return dst
	}
	check := func(t *testing.T, dir string, want int) {
		before := folderState(t, dir)
		res, err := VerifyFolder(ctx, dir, "")
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK || res.Entries != want {
			t.Fatalf("read-only copy: %+v, want ok with %d entries", res, want)
		}
		sameFolder(t, dir, before)
	}
	// The desk is running: the newest commits are in the -wal only.
	if st, err := os.Stat(f.path + "-wal"); err != nil || st.Size() == 0 {
		t.Fatalf("want a non-empty -wal while the ledger is open: %v", err)
	}
	t.Run("Running", func(t *testing.T) { check(t, copyTo(t, "", "-wal", "-shm"), 5) })
	t.Run("KilledNoShm", func(t *testing.T) { check(t, copyTo(t, "", "-wal"), 5) })
	f.l.Close()
	f.l = nil
	t.Run("Closed", func(t *testing.T) { check(t, copyTo(t, ""), 5) })
}

// TestOpenReadOnlyRefusesWrites: the snapshot connection refuses writes
// even for root, for whom file permissions do not apply.
func TestOpenReadOnlyRefusesWrites(t *testing.T) {
	f := newFixture(t)
	appendL(t, f.l, 1)
	f.l.Close()
	f.l = nil
	db, closeDB, err := store.OpenReadOnly(context.Background(), f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	before, _ := os.ReadFile(f.path)
	for _, q := range []string{"DELETE FROM audit_log", "CREATE TABLE x(a)", "PRAGMA user_version = 7"} {
		if _, err := db.Exec(q); err == nil {
			t.Errorf("%s succeeded on the read-only open", q)
		}
	}
	after, _ := os.ReadFile(f.path)
	if !bytes.Equal(before, after) {
		t.Fatal("ledger changed")
	}
	names, _ := os.ReadDir(f.dir)
	for _, n := range names {
		if slices.Contains([]string{FileName + "-wal", FileName + "-shm"}, n.Name()) {
			t.Errorf("%s created by a read-only open", n.Name())
		}
	}
}

// TestVerifyFolderNotALedger: a SQLite file without the ledger's tables
// is reported, not given a schema.
func TestVerifyFolderNotALedger(t *testing.T) {
	f := newFixture(t)
	f.l.Close()
	f.l = nil
	mustExec(t, f.raw(t), "DROP TABLE audit_head")
	before := folderState(t, f.dir)
	res, err := VerifyFolder(context.Background(), f.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.Reason != "ledger_schema_missing" {
		t.Fatalf("%+v, want ledger_schema_missing", res)
	}
	sameFolder(t, f.dir, before)
}
