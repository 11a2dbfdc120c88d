package cache_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/cache"
	"stationdesk/offline/syncwire"

	_ "modernc.org/sqlite"
)

func mustLookup(t *testing.T, c *cache.Cache, h syncwire.CardHash) app.GateStatus {
	t.Helper()
	st, err := c.Lookup(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func checkDigests(t *testing.T, c *cache.Cache) {
	t.Helper()
	ctx := context.Background()
	sc, sp, err1 := c.Digests(ctx)
	rc, rp, err2 := c.Recompute(ctx)
	if err1 != nil || err2 != nil || sc != rc || sp != rp {
		t.Fatalf("stored digests disagree with the effective rows (%v %v)", err1, err2)
	}
}

// TestChangesSurviveMergeAndReopen applies bindings, an unbinding, a block
// and health changes; they are visible from the overlay, after a merge
// into the big tables, and after a reopen, with digests that always add up.
func TestChangesSurviveMergeAndReopen(t *testing.T) {
	ctx := context.Background()
	path := build(t, t.TempDir(), 100, cache.Options{})
	c, err := cache.Open(ctx, path, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	newCard := cardHash(5000)
	seg := syncwire.Segment{From: 1, To: 6,
		Cards: []syncwire.Card{
			{Hash: cardHash(6), Flags: syncwire.FlagDeleted, Seq: 2},            // person 4's card unbound
			{Hash: cardHash(8), Person: 5, Flags: syncwire.FlagBlocked, Seq: 3}, // blocked
			{Hash: newCard, Person: 4, Seq: 4},                                  // new binding
		},
		Persons: []syncwire.Person{
			{Person: 4, Color: syncwire.ColorRed, TestMin: 27_000_000, Seq: 5}, // green → red
			{Person: 3, Flags: syncwire.FlagDeleted, Seq: 6},                   // person gone
		}}
	if res, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil || res.Upserts != 5 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	check := func(stage string) {
		t.Helper()
		if st := mustLookup(t, c, cardHash(6)); st.Found {
			t.Fatalf("%s: unbound card still found: %+v", stage, st)
		}
		if st := mustLookup(t, c, cardHash(8)); !st.Found || !st.Blocked {
			t.Fatalf("%s: blocked card: %+v", stage, st)
		}
		if st := mustLookup(t, c, newCard); !st.Found || st.Person != 4 || st.Color != app.ColorRed {
			t.Fatalf("%s: new card of person 4 (now red): %+v", stage, st)
		}
		if st := mustLookup(t, c, cardHash(7)); st.Person != 4 || st.Color != app.ColorRed {
			t.Fatalf("%s: old card of person 4 sees the new colour: %+v", stage, st)
		}
		if st := mustLookup(t, c, cardHash(4)); !st.Found || st.Person != 3 || st.Color != app.ColorNone {
			t.Fatalf("%s: card of a deleted person has no status: %+v", stage, st)
		}
		if st, err := c.LookupPerson(ctx, 3); err != nil || st.Found {
			t.Fatalf("%s: deleted person: %+v %v", stage, st, err)
		}
		checkDigests(t, c)
	}
	check("overlay")
	if got := c.MergeStats().Pending; got != 5 {
		t.Fatalf("pending %d, want 5", got)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s := c.MergeStats(); s.Pending != 0 || s.Merges != 1 || s.Merged != 5 {
		t.Fatalf("after flush: %+v", s)
	}
	check("merged")
	// Re-applying the same segment changes nothing.
	if res, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil || res.Upserts != 0 {
		t.Fatalf("re-apply: %+v %v", res, err)
	}
	// More changes, left pending, then a reopen.
	seg2 := syncwire.Segment{From: 6, To: 7, Persons: []syncwire.Person{{Person: 4, Color: syncwire.ColorGreen, TestMin: 27_000_100, Seq: 7}}}
	if _, err := c.ApplySegment(ctx, seg2, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = cache.Open(ctx, path, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := mustLookup(t, c, newCard); st.Color != app.ColorGreen || c.MergeStats().Pending != 1 {
		t.Fatalf("pending change lost on reopen: %+v %+v", st, c.MergeStats())
	}
	checkDigests(t, c)
}

// TestHotRowAheadIsNotRegressed: a hot-list change ahead of the segments
// wins over an older change of the same key arriving later in a segment,
// also across a merge (which must leave the hot row pending).
func TestHotRowAheadIsNotRegressed(t *testing.T) {
	ctx := context.Background()
	c, err := cache.Open(ctx, build(t, t.TempDir(), 100, cache.Options{}), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hot := syncwire.Segment{From: 10, To: 10, Persons: []syncwire.Person{{Person: 4, Color: syncwire.ColorRed, TestMin: 27_000_000, Seq: 10}}}
	if _, err := c.ApplyHot(ctx, hot); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if c.MergeStats().Pending != 1 {
		t.Fatal("a hot row ahead of the applied sequence was merged")
	}
	older := syncwire.Segment{From: 1, To: 5, Persons: []syncwire.Person{{Person: 4, Color: syncwire.ColorGreen, TestMin: 27_000_000, Seq: 5}}}
	if res, err := c.ApplySegment(ctx, older, time.Time{}); err != nil || res.Skipped != 1 {
		t.Fatalf("older change: %+v %v", res, err)
	}
	if st := mustLookup(t, c, cardHash(6)); st.Color != app.ColorRed {
		t.Fatalf("hot change regressed by an older segment row: %+v", st)
	}
	rest := syncwire.Segment{From: 5, To: 12, Persons: []syncwire.Person{{Person: 4, Color: syncwire.ColorRed, TestMin: 27_000_000, Seq: 10}}}
	if res, err := c.ApplySegment(ctx, rest, time.Time{}); err != nil || res.Skipped != 1 {
		t.Fatalf("segment with the hot row: %+v %v", res, err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := mustLookup(t, c, cardHash(6)); st.Color != app.ColorRed || c.MergeStats().Pending != 0 {
		t.Fatalf("after catching up and merging: %+v %+v", st, c.MergeStats())
	}
	checkDigests(t, c)
}

// TestBackgroundMergeWhileLooking: with a small MergeAt the merger runs on
// its own while gates look up keys that are being merged; every answer is
// the newest value.
func TestBackgroundMergeWhileLooking(t *testing.T) {
	ctx := context.Background()
	n := 2000
	c, err := cache.Open(ctx, build(t, t.TempDir(), n, cache.Options{}), cache.Options{MergeAt: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	persons := uint64(n/2 + 1)
	var round atomic.Int64 // colour of every person: even rounds green, odd red
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				before := round.Load()
				card := (i*7 + g) % n
				if card/2+1 == 2 { // person 2 has no status row
					continue
				}
				st, err := c.Lookup(ctx, cardHash(card))
				after := round.Load()
				if err != nil || !st.Found {
					t.Errorf("lookup: %+v %v", st, err)
					return
				}
				if before == after && before > 0 {
					want := app.ColorGreen
					if before%2 == 1 {
						want = app.ColorRed
					}
					if st.Color != want {
						t.Errorf("round %d: card %d colour %s, want %s", before, card, st.Color, want)
						return
					}
				}
			}
		}(g)
	}
	seq := uint64(1)
	for r := int64(1); r <= 6; r++ {
		color := uint8(syncwire.ColorGreen)
		if r%2 == 1 {
			color = syncwire.ColorRed
		}
		seg := syncwire.Segment{From: seq}
		for p := uint64(1); p <= persons; p++ {
			if p == 2 {
				continue
			}
			seq++
			seg.Persons = append(seg.Persons, syncwire.Person{Person: p, Color: color, TestMin: 27_000_000, Seq: seq})
		}
		seg.To = seq
		round.Store(-r) // in flight: not checked
		if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
			t.Fatal(err)
		}
		round.Store(r)
		time.Sleep(20 * time.Millisecond) // paces the feed: a segment every 20 ms, as central would send them
	}
	deadline := time.Now().Add(60 * time.Second)
	for c.MergeStats().Merges == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // poll interval; the deadline decides
	}
	close(stop)
	wg.Wait()
	if c.MergeStats().Merges == 0 {
		t.Fatal("the background merger never ran")
	}
	checkDigests(t, c)
}

// TestOlderFormatIsRebuilt: a cache file written by an older StationDesk
// (other user_version) is removed and recreated empty, not served.
func TestOlderFormatIsRebuilt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE card(h BLOB PRIMARY KEY, person INTEGER, flags INTEGER, seq INTEGER) WITHOUT ROWID; INSERT INTO card VALUES(x'01', 1, 0, 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c, err := cache.Open(ctx, path, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, _, err := c.Counts(ctx); err != nil || n != 0 {
		t.Fatalf("old file served: %d cards, %v", n, err)
	}
	if st, err := c.State(ctx); err != nil || st.AppliedSeq != 0 {
		t.Fatalf("state %+v %v", st, err)
	}
}

// TestBuilderChunkIsAllOrNothing: a chunk that cannot go in (a duplicate
// key) is rolled back whole and not recorded, so the build can retry it.
func TestBuilderChunkIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	b, err := cache.OpenBuilder(ctx, filepath.Join(t.TempDir(), "b.db"), "t", "k", 0, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bad := []syncwire.Card{{Hash: cardHash(1), Person: 1}, {Hash: cardHash(1), Person: 2}}
	if err := b.AddCards(ctx, "c0", bad); err == nil || b.Done("c0") || b.Rows() != 0 {
		t.Fatalf("duplicate chunk: err %v done %v rows %d", err, b.Done("c0"), b.Rows())
	}
	good := []syncwire.Card{{Hash: cardHash(1), Person: 1}, {Hash: cardHash(2), Person: 2, Flags: syncwire.FlagDeleted}}
	if err := b.AddCards(ctx, "c0", good); err != nil || !b.Done("c0") || b.Rows() != 1 {
		t.Fatalf("retry: err %v done %v rows %d", err, b.Done("c0"), b.Rows())
	}
	cd, _ := b.Digests()
	if cd[syncwire.CardBucket(cardHash(1))].N != 1 {
		t.Fatalf("digest after retry: %+v", cd[syncwire.CardBucket(cardHash(1))])
	}
}

// TestReadersDoNotPinTheWAL: readers keep read transactions open between
// look-ups; a checkpoint still empties the WAL, and applied changes stay
// visible.
func TestReadersDoNotPinTheWAL(t *testing.T) {
	ctx := context.Background()
	path := build(t, t.TempDir(), 2000, cache.Options{})
	c, err := cache.Open(ctx, path, cache.Options{ReadConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seq := uint64(1)
	for k := 0; k < 20; k++ {
		for i := 0; i < 50; i++ { // every reader holds a read transaction
			mustLookup(t, c, cardHash(i))
		}
		seg := syncwire.Segment{From: seq, To: seq + 1, Persons: []syncwire.Person{{Person: 5, Color: uint8(1 + k%2), TestMin: 27_000_000, Seq: seq + 1}}}
		if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
			t.Fatal(err)
		}
		seq++
	}
	start := time.Now()
	if err := c.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint with readers in use: %v", err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() != 0 {
		t.Fatalf("WAL not emptied: %v %v", fi.Size(), err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("checkpoint waited %s for readers", d)
	}
	if st := mustLookup(t, c, cardHash(8)); st.Color != app.ColorYellow { // person 5, last change k=19: code 2, yellow
		t.Fatalf("after checkpoint: %+v", st)
	}
}

// TestFailedMergeLosesNothing: a merge that stops part-way (here its
// context ends while it writes the big tables) leaves every change pending
// and answered, and the next merge completes it.
func TestFailedMergeLosesNothing(t *testing.T) {
	ctx := context.Background()
	n := 120_000 // 60 k persons: three merge transactions
	c, err := cache.Open(ctx, build(t, t.TempDir(), n, cache.Options{}), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seg := syncwire.Segment{From: 1}
	seq := uint64(1)
	for p := uint64(1); p <= uint64(n/2+1); p++ {
		if p == 2 {
			continue
		}
		seq++
		seg.Persons = append(seg.Persons, syncwire.Person{Person: p, Color: syncwire.ColorYellow, TestMin: 27_000_000, Seq: seq})
	}
	seg.To = seq
	if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
		t.Fatal(err)
	}
	pending := c.MergeStats().Pending
	stopped := 0 // merges stopped part-way, not before they began
	for _, stopAfter := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond} {
		// Merge, not Flush: a merge that finished in time followed by a
		// checkpoint that did not would look like a failed merge.
		mctx, cancel := context.WithTimeout(ctx, stopAfter)
		err := c.Merge(mctx)
		cancel()
		if err == nil {
			t.Logf("merge finished within %s; nothing to check", stopAfter)
			continue
		}
		if stopAfter > 0 {
			stopped++
		}
		if got := c.MergeStats().Pending; got != pending {
			t.Fatalf("after a merge stopped at %s: %d changes pending, want %d", stopAfter, got, pending)
		}
		for _, card := range []int{0, 7, n / 2, n - 1} {
			if st := mustLookup(t, c, cardHash(card)); st.Color != app.ColorYellow {
				t.Fatalf("card %d after a failed merge: %+v", card, st)
			}
		}
		checkDigests(t, c)
	}
	if stopped == 0 {
		t.Fatal("every merge given 1 ms or more finished: none was stopped part-way")
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s := c.MergeStats(); s.Pending != 0 {
		t.Fatalf("after the retry: %+v", s)
	}
	for _, card := range []int{0, 7, n / 2, n - 1} {
		if st := mustLookup(t, c, cardHash(card)); st.Color != app.ColorYellow {
			t.Fatalf("card %d after the merge: %+v", card, st)
		}
	}
	checkDigests(t, c)
}

// TestMergeRenewsReadersOffTheLookups: after a merge, the background one
// or a flush's, the readers already see the merged tables, so no gate
// look-up begins a read transaction (and remaps the file) itself; the
// answers are the merged ones.
func TestMergeRenewsReadersOffTheLookups(t *testing.T) {
	t.Run("background", func(t *testing.T) { testMergeRenewsReaders(t, false) })
	t.Run("flush", func(t *testing.T) { testMergeRenewsReaders(t, true) })
}

func testMergeRenewsReaders(t *testing.T, flush bool) {
	ctx := context.Background()
	path := build(t, t.TempDir(), 2000, cache.Options{})
	opts := cache.Options{ReadConns: 3}
	if !flush {
		opts.MergeAt = 1 // every segment starts a merge
	}
	c, err := cache.Open(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 30; i++ { // every reader begins its first transaction
		mustLookup(t, c, cardHash(i))
	}
	first := c.MergeStats().LookupBegins
	if first < 1 || first > 3 {
		t.Fatalf("look-ups began %d read transactions on 3 readers, want 1–3", first)
	}
	for k := 0; k < 3; k++ {
		seq := uint64(1 + k)
		seg := syncwire.Segment{From: seq, To: seq + 1, Persons: []syncwire.Person{{Person: 5, Color: uint8(1 + k%2), TestMin: 27_000_000, Seq: seq + 1}}}
		if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if flush {
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
			if s := c.MergeStats(); s.Pending == 0 && s.Merges == int64(k+1) {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("merge %d not done after a minute: %+v", k, s)
			}
		}
		want := []app.HealthColor{app.ColorGreen, app.ColorYellow}[k%2]
		for i := 0; i < 30; i++ { // every reader answers
			if st := mustLookup(t, c, cardHash(8)); st.Person != 5 || st.Color != want {
				t.Fatalf("merge %d, look-up %d: card of person 5 %+v, want colour %v", k, i, st, want)
			}
		}
	}
	if got := c.MergeStats().LookupBegins; got != first {
		t.Errorf("look-ups began %d read transactions after 3 merges, want none (the merge renews them)", got-first)
	}
}

// TestBackgroundMergeRests: the background merge rests between its
// transactions (Options.MergeDuty), leaves the answers right, and counts
// its rests apart from its work; a flush (shutdown, tests) and a duty of 1
// do not rest.
func TestBackgroundMergeRests(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		opts  cache.Options
		flush bool
		rests bool
	}{
		{"background", cache.Options{MergeAt: 1, MergeDuty: 0.5}, false, true},
		{"full duty", cache.Options{MergeAt: 1, MergeDuty: 1}, false, false},
		{"flush", cache.Options{}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cache.Open(ctx, build(t, t.TempDir(), 2000, cache.Options{}), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			seg := syncwire.Segment{From: 1, To: 2, Persons: []syncwire.Person{{Person: 5, Color: syncwire.ColorRed, TestMin: 27_000_000, Seq: 2}}}
			if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if tc.flush {
				if err := c.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			var s cache.MergeStats
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
				if s = c.MergeStats(); s.Merges == 1 && s.Pending == 0 {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("no merge after a minute: %+v", s)
				}
			}
			if rested := s.MergeRest > 0; rested != tc.rests {
				t.Errorf("merge rested %s (worked %s), want a rest: %v", s.MergeRest, s.MergeTime, tc.rests)
			}
			if s.MergeTime <= 0 {
				t.Errorf("merge work time %s", s.MergeTime)
			}
			if st := mustLookup(t, c, cardHash(8)); st.Person != 5 || st.Color != app.ColorRed {
				t.Errorf("after the merge: card of person 5 %+v, want red", st)
			}
		})
	}
}
