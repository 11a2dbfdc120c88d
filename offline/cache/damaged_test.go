package cache_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stationdesk/offline/cache"
)

// TestOpenMovesDamagedFileAside: a cache file whose header is garbage is
// moved aside whole (store.Quarantine) and a fresh, empty cache opens in
// its place; the damaged bytes are kept for forensics.
func TestOpenMovesDamagedFileAside(t *testing.T) {
	ctx := context.Background()
	path := build(t, t.TempDir(), 100, cache.Options{})
	c, err := cache.Open(ctx, path, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cards, _, err := c.Counts(ctx); err != nil || cards != 100 {
		t.Fatalf("built cache holds %d cards (%v), want 100", cards, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte("not a cache "), 10)
	if _, err := f.WriteAt(garbage, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()

	c, err = cache.Open(ctx, path, cache.Options{})
	if err != nil {
		t.Fatalf("open over a damaged file: %v", err)
	}
	defer c.Close()
	if cards, _, err := c.Counts(ctx); err != nil || cards != 0 {
		t.Fatalf("fresh cache holds %d cards (%v), want 0", cards, err)
	}
	moved, err := filepath.Glob(path + ".damaged-*")
	if err != nil {
		t.Fatal(err)
	}
	var mains []string
	for _, m := range moved {
		if strings.HasSuffix(m, "-wal") || strings.HasSuffix(m, "-shm") {
			continue
		}
		mains = append(mains, m)
	}
	if len(mains) != 1 {
		t.Fatalf("moved aside: %v, want one main file", moved)
	}
	b, err := os.ReadFile(mains[0])
	if err != nil || !bytes.HasPrefix(b, garbage) {
		t.Fatalf("%s does not hold the damaged bytes (%v)", mains[0], err)
	}
}
