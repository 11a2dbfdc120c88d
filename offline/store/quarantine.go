package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Quarantine moves the SQLite file at path, with its -wal and -shm
// companions, aside to path + ".damaged-YYYYMMDDTHHMMSSZ" (+"-wal"/"-shm",
// so the set still opens together for forensics) and returns the new main
// file path. Nothing is deleted. Only callers whose data can be rebuilt
// (the gate cache, from central) may use it; the ledger must never be
// quarantined automatically. The file must be closed.
func Quarantine(path string) (string, error) {
	return quarantineAt(path, time.Now())
}

func quarantineAt(path string, now time.Time) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("store: quarantine %s: %w", path, err)
	}
	base := path + ".damaged-" + now.UTC().Format("20060102T150405Z")
	target := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
			break
		}
		target = fmt.Sprintf("%s-%d", base, i)
	}
	// Companions first: a crash in between must not leave a -wal next to
	// a fresh main file it does not belong to.
	for _, sfx := range []string{"-wal", "-shm"} {
		if err := os.Rename(path+sfx, target+sfx); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("store: quarantine %s: %w", path+sfx, err)
		}
	}
	if err := os.Rename(path, target); err != nil {
		return "", fmt.Errorf("store: quarantine %s: %w", path, err)
	}
	return target, nil
}
