package gatebench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"stationdesk/offline/cache"
	"stationdesk/offline/gatesync"
	"stationdesk/offline/sim/syncpub"
	"stationdesk/offline/syncwire"
)

// TestMemIndexAnswersAsTheCache: the experiment's in-memory copy of the big
// tables gives every card's and person's status as the cache file does,
// and finds no card the city does not have.
func TestMemIndexAnswersAsTheCache(t *testing.T) {
	ctx := context.Background()
	const n = 5000
	src := syncpub.NewSynthetic(n, 1, time.Now().Truncate(time.Minute))
	pub, err := syncpub.New(ctx, syncpub.Config{Source: src, Keys: syncpub.DemoKeys()})
	if err != nil {
		t.Fatal(err)
	}
	central := httptest.NewServer(http.StripPrefix("/v1/sync", pub.Handler()))
	defer central.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "cache.db")
	live, err := cache.Open(ctx, path, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	cl, err := gatesync.New(gatesync.Config{BaseURL: central.URL + "/v1/sync", PinnedKey: syncpub.DemoKeys().ManifestPublic, Cache: live, Dir: filepath.Join(dir, "sync")})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := live.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := loadMemIndex(ctx, path, live)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.keys) != n || len(m.pkeys) != syncpub.SyntheticPersons(n) {
		t.Fatalf("index holds %d cards and %d persons, want %d and %d", len(m.keys), len(m.pkeys), n, syncpub.SyntheticPersons(n))
	}
	key := cl.Trust().CardKey
	for i := 0; i < n; i++ {
		h := syncwire.HashCard(key, syncpub.SyntheticCardNumber(i))
		want, err := live.Lookup(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := m.Lookup(ctx, h)
		if got != want || !got.Found {
			t.Fatalf("card %d: index %+v, cache %+v", i, got, want)
		}
		wp, _ := live.LookupPerson(ctx, want.Person)
		if gp, _ := m.LookupPerson(ctx, want.Person); gp != wp {
			t.Fatalf("person %d: index %+v, cache %+v", want.Person, gp, wp)
		}
	}
	for i := n; i < n+1000; i++ {
		h := syncwire.HashCard(key, syncpub.SyntheticCardNumber(i))
		if got, _ := m.Lookup(ctx, h); got.Found {
			t.Fatalf("card %d is not in the city, the index found %+v", i, got)
		}
	}
}
