package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"stationdesk/offline/sim/syncpub"
)

// syncBuf is a bytes.Buffer safe for a goroutine writing and a test reading.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestHeadlessStationConformance is the vendor's path on real parts: a
// data folder as setup leaves it, `gates add` for two gates with --config,
// `serve` on loopback (synced from the sync publisher), `gates rotate`
// while serve runs, then `gatesim conformance` with each provisioning
// file: every clause passes, the rotated key works without a restart, and a
// revoked gate fails.
func TestHeadlessStationConformance(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub, err := syncpub.New(ctx, syncpub.Config{Source: syncpub.NewSynthetic(300, 3, time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/sync/", http.StripPrefix("/v1/sync", pub.Handler()))
	mux.HandleFunc("/v1/gate-events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"accepted":0,"duplicates":0}`))
	})
	central := httptest.NewServer(mux)
	defer central.Close()

	dir, pin, _ := gatesFolder(t)
	port := freePort(t)
	cfg := filepath.Join(t.TempDir(), "serve.toml")
	os.WriteFile(cfg, []byte(`data_dir = "`+dir+`"
listen = "127.0.0.1:`+port+`"
mode = "enforce"
station_id = "st-0101"
[central]
url = "`+central.URL+`"
manifest_public_key = "unused-with-demo-key"
`), 0o600)
	work := t.TempDir()
	for _, g := range []string{"gate-01", "gate-02"} {
		if code, out, e := runCLI("gates", "add", g, "--config", cfg, "--operator", "1001", "--pin-file", pin, "--out", filepath.Join(work, g+".json")); code != 0 {
			t.Fatalf("add %s: %s %s", g, out, e)
		}
	}
	var sout, serr syncBuf
	done := make(chan int, 1)
	go func() { done <- cmdServe(ctx, []string{"--config", cfg, "--demo-key"}, &sout, &serr) }()
	for deadline := time.Now().Add(60 * time.Second); ; {
		if strings.Contains(serr.String(), "snapshot applied") || strings.Contains(serr.String(), "cache_version") || syncedHealth("127.0.0.1:"+port) {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, serr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not synced within 60 s:\n%s", serr.String())
		}
		time.Sleep(100 * time.Millisecond) // poll interval; the deadline decides
	}
	if !strings.Contains(serr.String(), "gate mode from the configuration") {
		t.Fatalf("serve does not say which mode is in force:\n%s", serr.String())
	}
	conform := func(prov string) (int, string) {
		code, out, e := runCLI("gatesim", "conformance", "--key-file", prov)
		return code, out + e
	}
	if code, out := conform(filepath.Join(work, "gate-01.json")); code != 0 {
		t.Fatalf("gate-01:\n%s", out)
	}
	rot := filepath.Join(work, "gate-02-k2.json")
	if code, out, e := runCLI("gates", "rotate", "gate-02", "--config", cfg, "--operator", "1001", "--pin-file", pin, "--out", rot); code != 0 {
		t.Fatal(out, e)
	}
	var out string
	for deadline := time.Now().Add(10 * time.Second); ; {
		var code int
		if code, out = conform(rot); code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rotated key not taken by the running serve:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond) // poll interval; the deadline decides
	}
	if !regexp.MustCompile(`22 clauses: 22 passed, 0 failed`).MatchString(out) {
		t.Fatalf("report:\n%s", out)
	}
	if code, _, e := runCLI("gates", "revoke", "gate-01", "--config", cfg, "--operator", "1001", "--pin-file", pin); code != 0 {
		t.Fatal(e)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, out := conform(filepath.Join(work, "gate-01.json"))
		if code == 1 && strings.Contains(out, "FAIL  signature: a signed request gets 200") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked gate still answered:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond) // poll interval; the deadline decides
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d", code)
	}
}

func syncedHealth(addr string) bool {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode == 200 && !strings.Contains(b.String(), "never_synced")
}

// freePort returns a loopback port that was free a moment ago (serve takes
// its address from the config file).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}
