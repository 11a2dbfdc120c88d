package gatesync

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/cache"
	"stationdesk/offline/sim/syncpub"
	"stationdesk/offline/syncwire"
)

var t0 = time.Date(2022, 6, 1, 8, 0, 0, 0, time.UTC)

type env struct {
	clock *app.FakeClock
	src   *syncpub.Synthetic
	pub   *syncpub.Publisher
	srv   *httptest.Server
	live  *cache.Cache
	cl    *Client
	dir   string
}

func newEnv(t *testing.T, n int, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{clock: app.NewFakeClock(t0), dir: t.TempDir()}
	e.src = syncpub.NewSynthetic(n, 7, t0)
	var err error
	e.pub, err = syncpub.New(ctx, syncpub.Config{Source: e.src, Keys: syncpub.DemoKeys(), Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = http.StripPrefix("/v1/sync", e.pub.Handler())
	if wrap != nil {
		h = wrap(h)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	e.live, err = cache.Open(ctx, filepath.Join(e.dir, "cache.db"), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.live.Close() })
	e.cl = e.newClient(t)
	return e
}

func (e *env) newClient(t *testing.T) *Client {
	cl, err := New(Config{BaseURL: e.srv.URL + "/v1/sync", PinnedKey: syncpub.DemoKeys().ManifestPublic, Cache: e.live,
		Dir: filepath.Join(e.dir, "sync"), Clock: e.clock, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// checkCards compares every synthetic card's cached status with the source.
func (e *env) checkCards(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	key := syncpub.DemoKeys().CardKey
	for i := 0; i < n; i++ {
		st, err := e.live.Lookup(ctx, syncwire.HashCard(key, syncpub.SyntheticCardNumber(i)))
		if err != nil {
			t.Fatal(err)
		}
		if !st.Found || st.Person != syncpub.SyntheticPersonOf(i) {
			t.Fatalf("card %d: found=%v person=%d", i, st.Found, st.Person)
		}
	}
}

func TestColdStartThenDeltas(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 3000, nil)
	if err := e.cl.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	e.checkCards(t, 3000)
	nc, np, _ := e.live.Counts(ctx)
	if nc != 3000 || np != int64(syncpub.SyntheticPersons(3000)) {
		t.Fatalf("counts %d %d", nc, np)
	}
	if f := e.live.Freshness(); !f.FreshAsOf.Equal(t0) {
		t.Fatalf("fresh %v", f.FreshAsOf)
	}
	// Deltas.
	e.clock.Advance(30 * time.Second)
	e.src.Generate(500, e.clock.Now())
	e.clock.Advance(31 * time.Second)
	if err := e.pub.CloseSegment(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.cl.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := e.live.State(ctx)
	if st.AppliedSeq != 501 || st.SnapshotSeq != 1 {
		t.Fatalf("state %+v", st)
	}
	bad, err := mismatches(ctx, e.live, ptr(e.pub.Manifest(0)))
	if err != nil || len(bad) != 0 {
		t.Fatalf("mismatch %v %v", bad, err)
	}
}

func ptr[T any](v T) *T { return &v }
