package filelock_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"stationdesk/offline/filelock"
)

// TestExclusive: two open files of one path exclude each other (the lock
// is the open file's, also within one process); a waiting Lock gets it as
// soon as the holder lets go; a closed holder is no lock.
func TestExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b := open(), open()
	if err := filelock.TryLock(a); err != nil {
		t.Fatalf("first TryLock: %v", err)
	}
	if err := filelock.TryLock(b); !errors.Is(err, filelock.ErrHeld) {
		t.Fatalf("second TryLock: %v, want ErrHeld", err)
	}
	got := make(chan error, 1)
	go func() { got <- filelock.Lock(b) }()
	select {
	case err := <-got:
		t.Fatalf("Lock returned (%v) while the lock was held", err)
	default:
	}
	if err := filelock.Unlock(a); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiting Lock: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting Lock did not get the released lock")
	}
	if err := filelock.TryLock(a); !errors.Is(err, filelock.ErrHeld) {
		t.Fatalf("TryLock while the waiter holds it: %v, want ErrHeld", err)
	}
	b.Close()
	if err := filelock.TryLock(a); err != nil {
		t.Fatalf("TryLock after the holder closed: %v", err)
	}
}

// TestAcquire: Acquire creates the file 0600 and its release lets the next
// holder in.
func TestAcquire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reg.lock")
	release, err := filelock.Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || (fi.Mode().Perm()&0o077 != 0 && os.PathSeparator == '/') {
		t.Fatalf("lock file %v (%v), want 0600", fi.Mode(), err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := filelock.TryLock(f); !errors.Is(err, filelock.ErrHeld) {
		t.Fatalf("TryLock while acquired: %v, want ErrHeld", err)
	}
	release()
	if err := filelock.TryLock(f); err != nil {
		t.Fatalf("TryLock after release: %v", err)
	}
}
