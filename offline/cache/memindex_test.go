package cache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/cache"
	"stationdesk/offline/syncwire"
)

// waitIndex waits until the memory index is in use and at least builds
// indexes have been built since open.
func waitIndex(t *testing.T, c *cache.Cache, builds int64) cache.IndexStats {
	t.Helper()
	return pollIndex(t, c, "the memory index ready", func(s cache.IndexStats) bool { return s.Ready && s.Builds >= builds })
}

// pollIndex polls the index's stats until cond holds, failing the test
// after a minute (the poll interval decides nothing).
func pollIndex(t *testing.T, c *cache.Cache, what string, cond func(cache.IndexStats) bool) cache.IndexStats {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Millisecond) {
		if s := c.IndexStats(); cond(s) {
			return s
		} else if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s: %+v", what, s)
		}
	}
}

// TestMemIndexAnswersAsTheFile: with the big tables in memory every card
// and person gets the answer the file gives — blocked cards, a holder
// without a status row, unknown cards, two cards sharing their first
// 64 bits — with the overlay's changes in front, and after a merge the
// new index holds them.
func TestMemIndexAnswersAsTheFile(t *testing.T) {
	ctx := context.Background()
	const n = 3000
	path := build(t, t.TempDir(), n, cache.Options{})
	c, err := cache.Open(ctx, path, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := waitIndex(t, c, 1)
	if s.Cards != n || s.Persons != n/2 || s.Bytes <= 0 {
		t.Fatalf("index %+v, want %d cards and %d persons", s, n, n/2)
	}

	// The build's city: card i held by person i/2+1, green for even
	// persons and red for odd ones, card 0 blocked, person 2 without a
	// status row.
	want := func(i int) app.GateStatus {
		p := uint64(i/2 + 1)
		gs := app.GateStatus{Found: true, Person: p, Blocked: i == 0, Color: app.ColorNone}
		if p != 2 {
			gs.Color, gs.LastNegative = app.ColorGreen, syncwire.TestTime(syncwire.TestMinutes(time.Unix(1_650_000_000, 0)))
			if p%2 == 1 {
				gs.Color = app.ColorRed
			}
		}
		return gs
	}
	check := func(stage string, changed map[int]app.GateStatus) {
		t.Helper()
		for i := 0; i < n; i++ {
			w, ok := changed[i]
			if !ok {
				w = want(i)
			}
			if got := mustLookup(t, c, cardHash(i)); got != w {
				t.Fatalf("%s: card %d: %+v, want %+v", stage, i, got, w)
			}
		}
		for i := n; i < n+500; i++ {
			if _, ok := changed[i]; !ok {
				if got := mustLookup(t, c, cardHash(i)); got.Found {
					t.Fatalf("%s: card %d is not in the city, found %+v", stage, i, got)
				}
			}
		}
		for p := uint64(1); p <= n/2+1; p++ {
			got, err := c.LookupPerson(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			w := want(int(p-1) * 2) // a card of person p
			w.Blocked = false
			if p == 2 { // no status row
				w = app.GateStatus{}
			}
			if cw, ok := changed[-int(p)]; ok { // -p: person p changed
				w = cw
			}
			if got != w {
				t.Fatalf("%s: person %d: %+v, want %+v", stage, p, got, w)
			}
		}
	}
	check("built", nil)

	// Two new cards sharing their first 64 bits (one goes to card_x), a
	// card moved to a new person, an unbound card, a person gone.
	twin1, twin2 := cardHash(n+1), cardHash(n+1)
	twin2[11] ^= 0xff
	seg := syncwire.Segment{From: 1, To: 6,
		Cards: []syncwire.Card{
			{Hash: cardHash(6), Flags: syncwire.FlagDeleted, Seq: 2},
			{Hash: twin1, Person: 9, Seq: 3},
			{Hash: twin2, Person: 10, Seq: 4},
		},
		Persons: []syncwire.Person{
			{Person: 5000, Color: syncwire.ColorYellow, TestMin: 27_000_000, Seq: 5},
			{Person: 3, Flags: syncwire.FlagDeleted, Seq: 6},
		}}
	seg.Cards = append(seg.Cards, syncwire.Card{Hash: cardHash(10), Person: 5000, Seq: 6})
	if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
		t.Fatal(err)
	}
	yellow := app.GateStatus{Found: true, Person: 5000, Color: app.ColorYellow, LastNegative: syncwire.TestTime(27_000_000)}
	noStatus := func(p uint64) app.GateStatus { return app.GateStatus{Found: true, Person: p, Color: app.ColorNone} }
	changed := map[int]app.GateStatus{
		6:  {},
		10: yellow,
		4:  noStatus(3), 5: noStatus(3), // person 3 gone
		-3:    {},
		n + 1: want(16), // the first twin, held by person 9
	}
	checkTwins := func(stage string) {
		t.Helper()
		if got := mustLookup(t, c, twin1); got != want(16) {
			t.Fatalf("%s: first twin %+v, want person 9's %+v", stage, got, want(16))
		}
		if got := mustLookup(t, c, twin2); got != want(18) {
			t.Fatalf("%s: second twin %+v, want person 10's %+v", stage, got, want(18))
		}
	}
	check("overlay", changed)
	checkTwins("overlay")

	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The merge patched the index in use: no new read of the arrays.
	s = c.IndexStats()
	if !s.Ready || s.Builds != 1 || s.Patched != 1 || s.Patches != 1 || s.PatchRows != len(seg.Cards)+len(seg.Persons) {
		t.Fatalf("index after the merge %+v, want the first arrays and one patch of %d changes", s, len(seg.Cards)+len(seg.Persons))
	}
	check("merged", changed)
	checkTwins("merged")
	if got, err := c.LookupPerson(ctx, 5000); err != nil || got != yellow {
		t.Fatalf("new person after the merge: %+v %v", got, err)
	}

	// A merge big enough for a rebuild: the arrays are read again and
	// hold the changes.
	c.SetIndexHold(time.Millisecond, 0, func() float64 { return 0 })
	c.SetIndexRebuild(1, nil)
	seg = syncwire.Segment{From: 6, To: 7, Persons: []syncwire.Person{{Person: 7, Color: syncwire.ColorYellow, TestMin: 27_000_000, Seq: 7}}}
	if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s = waitIndex(t, c, 2)
	// Card 6 gone, the first twin in (the second is in card_x); person 3
	// gone, 5000 in.
	if s.Cards != n || s.Persons != n/2 || s.Patches != 0 {
		t.Fatalf("index after the rebuild %+v, want %d cards and %d persons and no patch", s, n, n/2)
	}
	yellow7 := app.GateStatus{Found: true, Person: 7, Color: app.ColorYellow, LastNegative: syncwire.TestTime(27_000_000)}
	changed[-7], changed[12], changed[13] = yellow7, yellow7, yellow7
	check("rebuilt", changed)
	checkTwins("rebuilt")
}

// TestMergeDuringIndexRead: a merge that ends while the arrays are read,
// after the read has its snapshot of the file, is patched onto the new
// arrays before they are put in use; without that the gates would get
// the values from before the merge.
func TestMergeDuringIndexRead(t *testing.T) {
	ctx := context.Background()
	const n = 1000
	c, err := cache.Open(ctx, build(t, t.TempDir(), n, cache.Options{}), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitIndex(t, c, 1)
	// The first read after this stops at its snapshot until the test's
	// merge is done; later ones wait for the test's end, so no third read
	// can hide what the second put in use.
	reading, merged, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var reads atomic.Int32
	c.SetIndexHold(time.Millisecond, 0, func() float64 { return 0 })
	c.SetIndexRebuild(1, func() {
		if reads.Add(1) == 1 {
			close(reading)
			<-merged
			return
		}
		<-finished
	})
	defer close(finished) // before c.Close, which waits for the indexer

	apply := func(p uint64, color uint8, seq uint64) {
		t.Helper()
		seg := syncwire.Segment{From: seq - 1, To: seq, Persons: []syncwire.Person{{Person: p, Color: color, TestMin: 27_000_000, Seq: seq}}}
		if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := c.Merge(ctx); err != nil {
			t.Fatal(err)
		}
	}
	apply(4, syncwire.ColorYellow, 2) // patch 1: asks for a rebuild
	select {
	case <-reading:
	case <-time.After(time.Minute):
		t.Fatalf("no read of the arrays a minute after the merge: %+v", c.IndexStats())
	}
	apply(6, syncwire.ColorYellow, 3) // merged while the arrays are read
	close(merged)
	s := waitIndex(t, c, 2)
	if s.Patches != 1 || s.PatchRows != 1 {
		t.Fatalf("new arrays %+v, want the merge of person 6 patched on", s)
	}
	// Cards 10 and 11 belong to person 6, 6 and 7 to person 4.
	for _, i := range []int{6, 7, 10, 11} {
		if st := mustLookup(t, c, cardHash(i)); st.Color != app.ColorYellow {
			t.Fatalf("card %d after the read: %+v, want yellow", i, st)
		}
	}
}

// TestNoMemIndex: a cache told to keep the big tables out of memory builds
// no index and answers from the file.
func TestNoMemIndex(t *testing.T) {
	ctx := context.Background()
	c, err := cache.Open(ctx, build(t, t.TempDir(), 100, cache.Options{}), cache.Options{NoMemIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := mustLookup(t, c, cardHash(8)); st.Person != 5 || st.Color != app.ColorRed {
		t.Fatalf("card 8: %+v", st)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s := c.IndexStats(); s.Ready || s.Builds != 0 {
		t.Fatalf("index %+v, want none", s)
	}
}

// TestIndexWaitsOutACatchUp: while changes arrive fast, every merge
// patches the memory index in use (it is never dropped, so the gates never
// fall back to the file), and the indexer holds the rebuild of the patched
// arrays while a merge would come before it was done; once the changes
// stop it reads them again. The rate the indexer sees is set by the test,
// so the outcome does not depend on how fast this machine applies.
func TestIndexWaitsOutACatchUp(t *testing.T) {
	ctx := context.Background()
	const n = 2000
	c, err := cache.Open(ctx, build(t, t.TempDir(), n, cache.Options{}), cache.Options{MergeAt: 400})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitIndex(t, c, 1)
	var rate atomic.Int64
	rate.Store(50_000) // catching up; and a build planned to take an hour
	c.SetIndexHold(time.Millisecond, time.Hour, func() float64 { return float64(rate.Load()) })
	c.SetIndexRebuild(300, nil) // the first merge's patch (400 changes) is over it; two stay under the cap of four times it

	// Apply until two merges have patched the index.
	seq := uint64(1)
	for i, deadline := 0, time.Now().Add(time.Minute); c.MergeStats().Merges < 2; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than two merges after a minute: %+v", c.MergeStats())
		}
		if s := c.IndexStats(); !s.Ready {
			t.Fatalf("the index was dropped during the catch-up: %+v", s)
		}
		seg := syncwire.Segment{From: seq, To: seq + 50}
		for j := range 50 {
			seq++
			seg.Persons = append(seg.Persons, syncwire.Person{Person: uint64((i*50+j)%(n/2) + 1), Color: syncwire.ColorGreen, TestMin: 27_000_000, Seq: seq})
		}
		if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	held := pollIndex(t, c, "three held rebuilds", func(s cache.IndexStats) bool { return s.Held >= 3 })
	if held.Builds != 1 || !held.Ready || held.Patched < 2 || held.PatchRows < 300 {
		t.Fatalf("during the catch-up: index %+v, want the first arrays in use with two merges patched on", held)
	}
	if st := mustLookup(t, c, cardHash(8)); st.Color != app.ColorGreen {
		t.Fatalf("card 8 during the catch-up: %+v, want green", st)
	}
	rate.Store(0) // the catch-up is over
	s := waitIndex(t, c, 2)
	if s.Cards != n {
		t.Fatalf("index after the catch-up %+v, want %d cards", s, n)
	}
	if st := mustLookup(t, c, cardHash(8)); st.Color != app.ColorGreen {
		t.Fatalf("card 8 after the catch-up: %+v, want green", st)
	}
}

// TestMergeBefore: the indexer's judgement of a catch-up, at the figures
// of a 30 M-card station (a 35 s build, merges every 1 M changes).
func TestMergeBefore(t *testing.T) {
	build := 35 * time.Second
	for _, tc := range []struct {
		name string
		left int64
		rate float64
		want bool
	}{
		{"catching up at 50,000/s, half way to the merge", 500_000, 50_000, true},
		{"catching up, a merge about to start", 0, 50_000, true},
		{"merge overdue (left below zero)", -10, 50_000, true},
		{"the city's rate, 231/s", 999_000, 231, false},
		{"the city's rate, the merge a minute away", 231 * 60, 231, false},
		{"nothing arriving", 1_000, 0, false},
		{"just inside the margin (52 s to go)", 52_000, 1_000, true},
		{"just outside it (53 s to go)", 53_000, 1_000, false},
	} {
		if got := cache.MergeBefore(tc.left, tc.rate, build); got != tc.want {
			t.Errorf("%s: mergeBefore(%d, %.0f, %s) = %v, want %v", tc.name, tc.left, tc.rate, build, got, tc.want)
		}
	}
}
