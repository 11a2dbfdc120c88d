package cache_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/cache"
	"stationdesk/offline/syncwire"
)

var testKey = []byte("cache test key")

func cardHash(i int) syncwire.CardHash {
	return syncwire.HashCard(testKey, "1000751"+strconv.Itoa(100000000+i))
}

// build makes a cache of n cards held by persons 1..n/2+1 (person i/2+1),
// colour green for even persons and red for odd ones; card 0 is blocked;
// person 2 has no status row at all.
func build(t testing.TB, dir string, n int, opts cache.Options) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "cache.db")
	b, err := cache.OpenBuilder(ctx, path, "t", "k", 0, opts)
	if err != nil {
		t.Fatal(err)
	}
	cards := make([]syncwire.Card, n)
	for i := range cards {
		cards[i] = syncwire.Card{Hash: cardHash(i), Person: uint64(i/2 + 1), Seq: 1}
		if i == 0 {
			cards[i].Flags = syncwire.FlagBlocked
		}
	}
	slices.SortFunc(cards, func(a, b syncwire.Card) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
	var ps []syncwire.Person
	for p := uint64(1); p <= uint64(n/2+1); p++ {
		if p == 2 {
			continue
		}
		c := uint8(syncwire.ColorGreen)
		if p%2 == 1 {
			c = syncwire.ColorRed
		}
		ps = append(ps, syncwire.Person{Person: p, Color: c, TestMin: syncwire.TestMinutes(time.Unix(1_650_000_000, 0)), Seq: 1})
	}
	if err := b.AddCards(ctx, "cards", cards); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPersons(ctx, "persons", ps); err != nil {
		t.Fatal(err)
	}
	if err := b.Finish(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLookup(t *testing.T) {
	ctx := context.Background()
	c, err := cache.Open(ctx, build(t, t.TempDir(), 100, cache.Options{}), cache.Options{ReadConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tests := []struct {
		name    string
		h       syncwire.CardHash
		found   bool
		blocked bool
		person  uint64
		color   app.HealthColor
	}{
		{"BlockedCardGreenPerson", cardHash(0), true, true, 1, app.ColorRed},
		{"GreenPerson", cardHash(2), true, false, 2, app.ColorNone},
		{"RedPerson", cardHash(4), true, false, 3, app.ColorRed},
		{"EvenPerson", cardHash(7), true, false, 4, app.ColorGreen},
		{"NotBound", cardHash(1000), false, false, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := c.Lookup(ctx, tc.h)
			if err != nil {
				t.Fatal(err)
			}
			if st.Found != tc.found || st.Blocked != tc.blocked || st.Person != tc.person || (tc.found && st.Color != tc.color) {
				t.Fatalf("got %+v", st)
			}
			if tc.found && tc.color != app.ColorNone && st.LastNegative.IsZero() {
				t.Fatal("no test time")
			}
		})
	}
	t.Run("PersonFound", func(t *testing.T) {
		st, err := c.LookupPerson(ctx, 4)
		if err != nil || !st.Found || st.Color != app.ColorGreen {
			t.Fatalf("%+v %v", st, err)
		}
	})
	t.Run("PersonWithoutRow", func(t *testing.T) {
		st, err := c.LookupPerson(ctx, 2)
		if err != nil || st.Found {
			t.Fatalf("%+v %v", st, err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.Lookup(cctx, cardHash(2)); app.ErrorCode(err) != app.CodeUnavailable {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("ConcurrentWithApply", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					st, err := c.Lookup(ctx, cardHash(6))
					if err != nil || !st.Found || st.Person != 4 {
						t.Errorf("%+v %v", st, err)
						return
					}
				}
			}()
		}
		for k := uint64(0); k < 5; k++ {
			seg := syncwire.Segment{From: 1 + k, To: 2 + k, Persons: []syncwire.Person{{Person: 3, Color: syncwire.ColorGreen, Seq: 2 + k}}}
			if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		st, err := c.Lookup(ctx, cardHash(4))
		if err != nil || st.Color != app.ColorGreen {
			t.Fatalf("applied change not visible: %+v %v", st, err)
		}
	})
	t.Run("Closed", func(t *testing.T) {
		c2, err := cache.Open(ctx, filepath.Join(t.TempDir(), "x.db"), cache.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c2.Close()
		if _, err := c2.Lookup(ctx, cardHash(2)); !errors.Is(err, cache.ErrClosed) {
			t.Fatalf("err %v", err)
		}
	})
}

func BenchmarkLookup(b *testing.B) {
	path := build(b, b.TempDir(), 200_000, cache.Options{})
	b.Run("file", func(b *testing.B) { benchLookup(b, path, cache.Options{NoMemIndex: true}) })
	b.Run("memory", func(b *testing.B) { benchLookup(b, path, cache.Options{}) })
}

func benchLookup(b *testing.B, path string, opts cache.Options) {
	ctx := context.Background()
	n := 200_000
	c, err := cache.Open(ctx, path, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(time.Minute); !opts.NoMemIndex && !c.IndexStats().Ready; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("memory index not ready after a minute")
		}
	}
	hs := make([]syncwire.CardHash, 4096)
	for i := range hs {
		hs[i] = cardHash(i * 37 % n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if st, err := c.Lookup(ctx, hs[i%len(hs)]); err != nil || !st.Found {
			b.Fatal(st, err)
		}
	}
}

// BenchmarkApplySegment applies 2,000-change person segments (random
// persons, key-sorted, one transaction each) to a 200 k-card cache; the
// figure is per applied change.
func BenchmarkApplySegment(b *testing.B) {
	ctx := context.Background()
	n := 200_000
	c, err := cache.Open(ctx, build(b, b.TempDir(), n, cache.Options{}), cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	persons := uint64(n/2 + 1)
	seq := uint64(1)
	x := uint64(12345)
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(2000, b.N-done)
		seen := map[uint64]bool{}
		seg := syncwire.Segment{From: seq}
		for i := 0; i < k; i++ {
			x = x*6364136223846793005 + 1442695040888963407
			p := x>>33%persons + 1
			if p == 2 || seen[p] {
				p = 1 + uint64(i)%persons
				if p == 2 || seen[p] {
					continue
				}
			}
			seen[p] = true
			seq++
			seg.Persons = append(seg.Persons, syncwire.Person{Person: p, Color: syncwire.ColorGreen, TestMin: 27_000_000, Seq: seq})
		}
		seg.To = seq
		slices.SortFunc(seg.Persons, func(a, b syncwire.Person) int {
			if a.Person < b.Person {
				return -1
			}
			return 1
		})
		if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
			b.Fatal(err)
		}
		done += k
	}
}
