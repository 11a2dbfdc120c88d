package cache_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"stationdesk/offline/cache"
	"stationdesk/offline/syncwire"
)

// twin returns a hash with the same first 64 bits as h and another tail.
func twin(h syncwire.CardHash, tail byte) syncwire.CardHash {
	h[11] ^= tail
	return h
}

// TestSixtyFourBitCollisions: cards whose hashes share the first 64 bits
// (the card table's key) are all found, through the build, an apply, a
// merge, the deletion of the card that holds the table row and a repair,
// with digests that add up.
func TestSixtyFourBitCollisions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "cache.db")
	base := cardHash(1)
	a, b, c3 := base, twin(base, 1), twin(base, 2)
	b1, err := cache.OpenBuilder(ctx, path, "t", "k", 0, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cards := []syncwire.Card{{Hash: a, Person: 1, Seq: 1}, {Hash: b, Person: 2, Flags: syncwire.FlagBlocked, Seq: 1}, {Hash: cardHash(2), Person: 3, Seq: 1}}
	slices.SortFunc(cards, func(x, y syncwire.Card) int { return bytes.Compare(x.Hash[:], y.Hash[:]) })
	if err := b1.AddCards(ctx, "cards", cards); err != nil {
		t.Fatal(err)
	}
	ps := []syncwire.Person{{Person: 1, Color: syncwire.ColorGreen, Seq: 1}, {Person: 2, Color: syncwire.ColorRed, Seq: 1}, {Person: 3, Color: syncwire.ColorGreen, Seq: 1}}
	if err := b1.AddPersons(ctx, "persons", ps); err != nil {
		t.Fatal(err)
	}
	// A duplicate in a later chunk is refused, not hidden in card_x.
	if err := b1.AddCards(ctx, "dup", []syncwire.Card{{Hash: b, Person: 9}}); err == nil {
		t.Fatal("a duplicate card hash in another chunk was accepted")
	}
	if err := b1.Finish(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(ctx, path, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := func(stage string, h syncwire.CardHash, found bool, person uint64, blocked bool) {
		t.Helper()
		st := mustLookup(t, c, h)
		if st.Found != found || found && (st.Person != person || st.Blocked != blocked) {
			t.Fatalf("%s: %x: %+v, want found %v person %d blocked %v", stage, h[:], st, found, person, blocked)
		}
	}
	want("built", a, true, 1, false)
	want("built", b, true, 2, true)
	want("built", c3, false, 0, false)
	if n, _, err := c.Counts(ctx); err != nil || n != 3 {
		t.Fatalf("counts %d %v", n, err)
	}
	checkDigests(t, c)

	// A third twin bound, the second's holder changed, then merged.
	seg := syncwire.Segment{From: 1, To: 3, Cards: []syncwire.Card{{Hash: b, Person: 3, Seq: 2}, {Hash: c3, Person: 1, Seq: 3}}}
	if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
		t.Fatal(err)
	}
	want("overlay", b, true, 3, false)
	want("overlay", c3, true, 1, false)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want("merged", a, true, 1, false)
	want("merged", b, true, 3, false)
	want("merged", c3, true, 1, false)
	checkDigests(t, c)

	// Unbind whichever twin holds the table row (the lowest hash), and
	// one in card_x: the rest stay found.
	lo := slices.MinFunc([]syncwire.CardHash{a, b, c3}, func(x, y syncwire.CardHash) int { return bytes.Compare(x[:], y[:]) })
	others := slices.DeleteFunc([]syncwire.CardHash{a, b, c3}, func(x syncwire.CardHash) bool { return x == lo })
	seg = syncwire.Segment{From: 3, To: 4, Cards: []syncwire.Card{{Hash: lo, Flags: syncwire.FlagDeleted, Seq: 4}}}
	if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want("row holder unbound", lo, false, 0, false)
	for _, h := range others {
		if st := mustLookup(t, c, h); !st.Found {
			t.Fatalf("twin %x lost when the row holder was unbound", h[:])
		}
	}
	checkDigests(t, c)
	seg = syncwire.Segment{From: 4, To: 5, Cards: []syncwire.Card{{Hash: others[1], Flags: syncwire.FlagDeleted, Seq: 5}}}
	if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want("second unbound", others[1], false, 0, false)
	if st := mustLookup(t, c, others[0]); !st.Found {
		t.Fatalf("last twin lost")
	}
	checkDigests(t, c)

	// A repair of the bucket from a chunk holding all three again.
	chunk := []syncwire.Card{{Hash: a, Person: 1, Seq: 1}, {Hash: b, Person: 2, Seq: 1}, {Hash: c3, Person: 3, Seq: 1}}
	slices.SortFunc(chunk, func(x, y syncwire.Card) int { return bytes.Compare(x.Hash[:], y.Hash[:]) })
	if _, err := c.RepairBucket(ctx, 0, syncwire.CardBucket(a), chunk, nil, nil); err != nil {
		t.Fatal(err)
	}
	want("repaired", a, true, 1, false)
	want("repaired", b, true, 2, false)
	want("repaired", c3, true, 3, false)
	checkDigests(t, c)
}

// TestFormat2FileIsRebuilt: a cache file of the previous layout (format 2,
// the 96-bit blob key) is not served; it is replaced by an empty file of
// the current format, which the sync then fills from central's snapshot
// like a new station.
func TestFormat2FileIsRebuilt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	h := cardHash(1)
	if _, err := db.Exec(`CREATE TABLE card(h BLOB PRIMARY KEY, person INTEGER NOT NULL, flags INTEGER NOT NULL) WITHOUT ROWID;
		CREATE TABLE state(id INTEGER PRIMARY KEY, applied_seq INTEGER NOT NULL, snapshot_seq INTEGER NOT NULL, hot_seq INTEGER NOT NULL, fresh_ms INTEGER NOT NULL, card_key_id TEXT NOT NULL, person_shift INTEGER NOT NULL, build_id TEXT NOT NULL);
		INSERT INTO state VALUES(1, 77, 70, 0, 0, 'k', 16, '');
		PRAGMA user_version = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO card VALUES(?, 1, 0)`, h[:]); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c, err := cache.Open(ctx, path, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := mustLookup(t, c, h); st.Found {
		t.Fatalf("format-2 row served: %+v", st)
	}
	if st, err := c.State(ctx); err != nil || st.AppliedSeq != 0 || st.SnapshotSeq != 0 {
		t.Fatalf("state after rebuild %+v %v: the sync would not take a snapshot", st, err)
	}
}
