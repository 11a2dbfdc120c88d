package gatesim_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/ledger"
	"stationdesk/offline/sim/gatesim"
	"stationdesk/offline/sim/syncpub"
	"stationdesk/offline/verify"
)

// startStation runs the real headless station (verify.Start: SQLite cache,
// sync, outbox, sealed registry) on loopback against the sync publisher,
// optionally over TLS with a generated station certificate, waits for the
// first sync and commissions gate "conf-1". It returns the base URL, the
// key and the certificate pin ("" without TLS).
func startStation(t *testing.T, withTLS bool) (string, app.GateKey, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	src := syncpub.NewSynthetic(500, 3, time.Now())
	pub, err := syncpub.New(ctx, syncpub.Config{Source: src})
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
	dir := t.TempDir()
	if _, err := ledger.LoadOrCreateKeys(dir); err != nil {
		t.Fatal(err)
	}
	cfg := verify.ServeConfig{DataDir: dir, Listen: "127.0.0.1:0", Mode: app.ModeEnforce, StationID: "st-conf"}
	cfg.Central.URL = central.URL
	pin := ""
	if withTLS {
		cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if pin, err = verify.GenerateCert(cfg.TLSCert, cfg.TLSKey, "st-conf", []string{"127.0.0.1"}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st, err := verify.Start(ctx, cfg, verify.Deps{PinnedKey: syncpub.DemoKeys().ManifestPublic, Listener: l})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); st.Stop(); central.Close() })
	for deadline := time.Now().Add(60 * time.Second); st.Cache.Freshness().FreshAsOf.IsZero(); {
		if time.Now().After(deadline) {
			t.Fatal("no first sync within 60 s")
		}
		time.Sleep(50 * time.Millisecond) // poll interval; the deadline decides
	}
	kh, err := st.Server.AddGate("conf-1", "1001")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := app.ParseGateKey(kh)
	scheme := "http://"
	if withTLS {
		scheme = "https://"
	}
	return scheme + st.Addr.String(), key, pin
}

// TestConformanceAgainstServe: every clause of the gate contract passes
// against our server, over plain HTTP and over TLS with the pinned
// station certificate; a wrong key makes clauses fail, and a wrong pin
// fails them all.
func TestConformanceAgainstServe(t *testing.T) {
	ctx := context.Background()
	for _, withTLS := range []bool{false, true} {
		url, key, pin := startStation(t, withTLS)
		o := gatesim.ConformanceOptions{Target: url, Gate: "conf-1", Key: key, Card: syncpub.SyntheticCardNumber(1)}
		if withTLS {
			o.TLS = verify.PinnedTLSClient(pin)
		}
		var out bytes.Buffer
		if !gatesim.ConformanceReport(&out, gatesim.Conformance(ctx, o)) {
			t.Fatalf("tls=%v:\n%s", withTLS, out.String())
		}
		if strings.Contains(out.String(), syncpub.SyntheticCardNumber(1)) {
			t.Fatal("the report shows the card number")
		}
		bad := o
		bad.Key[0] ^= 1
		if gatesim.ConformanceReport(&bytes.Buffer{}, gatesim.Conformance(ctx, bad)) {
			t.Fatalf("tls=%v: a wrong key passed", withTLS)
		}
		if withTLS {
			wrong := o
			wrong.TLS = verify.PinnedTLSClient(strings.Repeat("0", 64))
			for _, r := range gatesim.Conformance(ctx, wrong) {
				if r.Pass {
					t.Fatalf("wrong pin: %q passed", r.Clause)
				}
			}
		}
	}
}
