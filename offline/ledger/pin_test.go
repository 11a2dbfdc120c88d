package ledger

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/argon2"

	"stationdesk/app"
)

type pinRow struct {
	scheme     string
	kdf        KDFParams
	salt, hash []byte
}

func readPINRow(t *testing.T, db *sql.DB, id string) pinRow {
	t.Helper()
	var r pinRow
	if err := db.QueryRow("SELECT kdf, kdf_time, kdf_memory_kib, kdf_threads, pin_salt, pin_hash FROM operators WHERE id = ?", id).
		Scan(&r.scheme, &r.kdf.Time, &r.kdf.MemoryKiB, &r.kdf.Threads, &r.salt, &r.hash); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCopiedLedgerGivesNoPIN: the PIN hash is keyed with the PIN key from
// the key file. With ledger.db alone (copied next to another key file, or
// guessed at offline with the salt and parameters from the row), the
// right PIN does not match.
func TestCopiedLedgerGivesNoPIN(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.supervisor(t)
	row := readPINRow(t, f.l.db.Read(), "9001")
	if row.scheme != schemePepper1 {
		t.Fatalf("new PIN hash scheme = %q, want %q", row.scheme, schemePepper1)
	}
	// An attacker with the file and argon2id: the right PIN, the row's own
	// salt and parameters, no key.
	if subtle.ConstantTimeCompare(argon2.IDKey([]byte("900101"), row.salt, row.kdf.Time, row.kdf.MemoryKiB, row.kdf.Threads, pinHashLen), row.hash) == 1 {
		t.Fatal("the PIN hash in ledger.db can be matched without the key file")
	}
	if got := f.keys.hashPIN(schemePepper1, "900101", row.salt, row.kdf); subtle.ConstantTimeCompare(got, row.hash) != 1 {
		t.Fatal("with the key file the right PIN does not match")
	}

	// The same file beside another station's key file.
	f.l.Close()
	f.l = nil
	other := t.TempDir()
	b, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	otherKeys, err := LoadOrCreateKeys(other)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(ctx, filepath.Join(other, FileName), otherKeys, Options{Clock: f.clock, KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Login(ctx, "9001", "900101"); app.ErrorReason(err) != "bad_pin" {
		t.Fatalf("right PIN on a copied ledger with another key file: %v, want bad_pin", err)
	}

	// And the original pair still logs in.
	f.reopen(t)
	if _, err := f.l.Login(ctx, "9001", "900101"); err != nil {
		t.Fatalf("login with the station's own key file: %v", err)
	}
}

// TestLegacyPINHashMigrates: a row hashed the schema-1 way (argon2id over
// the PIN alone, one pass over 64 MiB) logs in once, is re-hashed under
// the pepper and the current parameters in that login, logs in again, and
// the chain still verifies (the change is covered by the login's entry).
func TestLegacyPINHashMigrates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.supervisor(t)
	legacy := KDFParams{Time: 1, MemoryKiB: 64, Threads: 1} // schema-1 shape, cheap for the race detector
	salt := make([]byte, pinSaltLen)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	hash := argon2.IDKey([]byte("900101"), salt, legacy.Time, legacy.MemoryKiB, legacy.Threads, pinHashLen)
	if err := f.l.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE operators SET kdf = 'argon2id', kdf_time = ?, kdf_memory_kib = ?, kdf_threads = ?, pin_salt = ?, pin_hash = ? WHERE id = '9001'",
			legacy.Time, legacy.MemoryKiB, legacy.Threads, salt, hash)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	f.l.Close()
	current := KDFParams{Time: 2, MemoryKiB: 128, Threads: 1}
	l, err := Open(ctx, f.path, f.keys, Options{Clock: f.clock, KDF: current})
	if err != nil {
		t.Fatal(err)
	}
	f.l = l

	if _, err := f.l.Login(ctx, "9001", "000000"); app.ErrorReason(err) != "bad_pin" {
		t.Fatalf("wrong PIN on a legacy row: %v", err)
	}
	if got := readPINRow(t, f.l.db.Read(), "9001"); got.scheme != schemeLegacy {
		t.Fatalf("a failed login changed the scheme to %q", got.scheme)
	}
	if _, err := f.l.Login(ctx, "9001", "900101"); err != nil {
		t.Fatalf("first login on a legacy row: %v", err)
	}
	got := readPINRow(t, f.l.db.Read(), "9001")
	if got.scheme != schemePepper1 || got.kdf != current {
		t.Fatalf("after the login the row is %q %+v, want %q %+v", got.scheme, got.kdf, schemePepper1, current)
	}
	if subtle.ConstantTimeCompare(argon2.IDKey([]byte("900101"), got.salt, got.kdf.Time, got.kdf.MemoryKiB, got.kdf.Threads, pinHashLen), got.hash) == 1 {
		t.Fatal("the migrated hash matches without the key")
	}
	if _, err := f.l.Login(ctx, "9001", "900101"); err != nil {
		t.Fatalf("login after migration: %v", err)
	}
	if _, err := f.l.Login(ctx, "9001", "000000"); app.ErrorReason(err) != "bad_pin" {
		t.Fatalf("wrong PIN after migration: %v", err)
	}
	if res, err := f.l.Verify(ctx); err != nil || !res.OK {
		t.Fatalf("chain after the migration: %+v %v", res, err)
	}
}

// TestUnknownPINSchemeRefused: a row naming a scheme this program does not
// know never logs in (the schema's CHECK keeps such rows out; this is the
// code's own guard).
func TestUnknownPINSchemeRefused(t *testing.T) {
	f := newFixture(t)
	f.supervisor(t)
	row := readPINRow(t, f.l.db.Read(), "9001")
	if f.keys.hashPIN("argon2id+pepper9", "900101", row.salt, row.kdf) != nil {
		t.Fatal("an unknown scheme hashed")
	}
	if _, err := f.raw(t).Exec("UPDATE operators SET kdf = 'bcrypt' WHERE id = '9001'"); err == nil {
		t.Fatal("the schema accepted an unknown PIN scheme")
	}
}

// TestDefaultKDF runs the real default cost once: a ledger opened without
// a KDF option hashes new PINs with DefaultKDF under the pepper, and the
// PIN logs in with it. (The other tests use testKDF through
// Options.KDF; this is the one that pays the real cost.)
func TestDefaultKDF(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(ctx, filepath.Join(dir, FileName), keys, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if DefaultKDF.Time < 3 || DefaultKDF.MemoryKiB < 128*1024 {
		t.Fatalf("DefaultKDF = %+v, below the measured ≥ 250 ms choice (t=3, 128 MiB)", DefaultKDF)
	}
	if err := l.CreateFirstSupervisor(ctx, app.Operator{ID: "9001", DisplayName: "站长"}, "900101"); err != nil {
		t.Fatal(err)
	}
	row := readPINRow(t, l.db.Read(), "9001")
	if row.scheme != schemePepper1 || row.kdf != DefaultKDF {
		t.Fatalf("row = %q %+v, want %q %+v", row.scheme, row.kdf, schemePepper1, DefaultKDF)
	}
	if _, err := l.Login(ctx, "9001", "900101"); err != nil {
		t.Fatalf("login with DefaultKDF: %v", err)
	}
	if _, err := l.Login(ctx, "9001", "900102"); app.ErrorReason(err) != "bad_pin" {
		t.Fatalf("wrong PIN with DefaultKDF: %v", err)
	}
}
