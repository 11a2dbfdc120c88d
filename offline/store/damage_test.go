package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stationdesk/app"
)

// makeDB writes a small, closed, checkpointed database with a table and an
// index over several pages, as SQLite's corrupt*.test do before mangling.
func makeDB(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, path, Options{Migrations: migrationsFS(map[string]string{
		"0001_t.sql": "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v);",
	})})
	if err != nil {
		t.Fatal(err)
	}
	err = db.WriteTx(ctx, func(tx *sql.Tx) error {
		for i := range 400 {
			if _, err := tx.Exec("INSERT INTO t(v) VALUES (?)", fmt.Sprintf("row-%05d-%s", i, strings.Repeat("x", 40))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("-wal left after close; the damage would not be in the main file")
	}
}

func TestOpenDamagedFile(t *testing.T) {
	const pg = 4096
	for _, tc := range []struct {
		name   string
		full   bool
		mangle func(b []byte) []byte
	}{
		{"ErrHeaderGarbled", false, func(b []byte) []byte { copy(b[0:16], "not a database!!"); return b }},
		{"ErrBtreePageType", false, func(b []byte) []byte { b[2*pg] = 0x77; return b }},
		{"ErrCellPointersScrambled", false, func(b []byte) []byte {
			for i := 2*pg + 8; i < 2*pg+40; i++ {
				b[i] ^= 0xff
			}
			return b
		}},
		{"ErrTruncated", false, func(b []byte) []byte { return b[:len(b)-3*pg] }},
		{"ErrPageCountWrong", false, func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[28:], binary.BigEndian.Uint32(b[28:])+50)
			return b
		}},
		{"ErrRandomBytes", false, func(b []byte) []byte {
			r := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			return b
		}},
		{"ErrIndexPageZeroed", true, func(b []byte) []byte {
			last := len(b)/pg - 1
			for i := last * pg; i < (last+1)*pg; i++ {
				b[i] = 0
			}
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			makeDB(t, path)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.mangle(b), 0o600); err != nil {
				t.Fatal(err)
			}
			before := fileSum(t, path)
			db, err := Open(context.Background(), path, Options{IntegrityCheck: tc.full})
			if err == nil {
				db.Close()
				t.Fatal("Open accepted a damaged file")
			}
			if app.ErrorCode(err) != app.CodeInternal || app.ErrorReason(err) != ReasonDamaged {
				t.Fatalf("err = %v (reason %q), want internal/%s", err, app.ErrorReason(err), ReasonDamaged)
			}
			for _, l := range []app.Lang{app.LangZH, app.LangEN} {
				if msg := app.UserMessage(err, l); !strings.Contains(msg, path) {
					t.Errorf("%s message does not name the file: %s", l, msg)
				}
			}
			if fileSum(t, path) != before {
				t.Error("the damaged file was modified")
			}
			// Callers that can rebuild move it aside and start afresh.
			moved, err := Quarantine(path)
			if err != nil {
				t.Fatal(err)
			}
			if fileSum(t, moved) != before {
				t.Error("quarantined file differs from the damaged one")
			}
			db, err = Open(context.Background(), path, Options{})
			if err != nil {
				t.Fatalf("fresh file after quarantine: %v", err)
			}
			db.Close()
		})
	}
}
