package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLogIsCapped: the desk's log is rotated at its size cap and only the
// configured number of old files is kept, so a long-running desk cannot
// fill the data folder's disk with its log.
func TestLogIsCapped(t *testing.T) {
	dir := t.TempDir()
	log, closeLog, err := newRotatingLogger(dir, 1, 2, io.Discard) // 1 MB, 2 old files
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 1000)
	for i := 0; i < 6000; i++ { // about 6 MB of log lines
		log.Info("filler", "n", i, "pad", line)
	}
	closeLog()
	// Old files are compressed in the background: wait until only the
	// capped set remains (the deadline decides).
	var names []string
	var total int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		names, total = nil, 0
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		pending := false
		for _, e := range entries {
			info, err := e.Info()
			if err != nil {
				continue // removed while listing
			}
			names = append(names, e.Name())
			total += info.Size()
			if strings.HasSuffix(e.Name(), ".log") && e.Name() != "stationdesk.log" {
				pending = true // not yet compressed
			}
		}
		if !pending && len(names) <= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log files not capped: %v", names)
		}
		time.Sleep(20 * time.Millisecond) // poll interval; the deadline decides
	}
	if len(names) < 2 {
		t.Fatalf("no rotation happened: %v", names)
	}
	if total > 3<<20 {
		t.Fatalf("log takes %d bytes (cap about 3 MB): %v", total, names)
	}
	info, err := os.Stat(filepath.Join(dir, "stationdesk.log"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("log mode %v, want 0600", info.Mode().Perm())
	}
}
