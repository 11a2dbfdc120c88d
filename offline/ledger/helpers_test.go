package ledger

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"stationdesk/app"
)

// testKDF keeps argon2id cheap under the race detector; the parameter
// handling is the same as with DefaultKDF.
var testKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

var t0 = time.Date(2022, 5, 20, 9, 0, 0, 0, time.UTC)

type fixture struct {
	dir   string
	path  string
	keys  *Keys
	clock *app.FakeClock
	l     *Ledger
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	keys, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, path: filepath.Join(dir, FileName), keys: keys, clock: app.NewFakeClock(t0)}
	f.reopen(t)
	t.Cleanup(func() {
		if f.l != nil {
			f.l.Close()
		}
	})
	return f
}

func (f *fixture) opts() Options {
	return Options{Clock: f.clock, Terminal: "T01", KDF: testKDF}
}

func (f *fixture) reopen(t *testing.T) {
	t.Helper()
	if f.l != nil {
		f.l.Close()
		f.l = nil
	}
	l, err := Open(context.Background(), f.path, f.keys, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	f.l = l
}

// raw opens the file with a plain connection, as someone with the file
// and the sqlite3 tool would.
func (f *fixture) raw(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", f.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) supervisor(t *testing.T) app.Operator {
	t.Helper()
	op := app.Operator{ID: "9001", DisplayName: "站长", Role: app.RoleSupervisor}
	if err := f.l.CreateFirstSupervisor(context.Background(), op, "900101"); err != nil {
		t.Fatal(err)
	}
	return op
}

// mountTmpfs mounts a tmpfs on dir (skipping the test if mount is not
// permitted) and unmounts it at cleanup.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}
