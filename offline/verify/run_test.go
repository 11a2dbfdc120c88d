package verify_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/ledger"
	"stationdesk/offline/sim/gatesim"
	"stationdesk/offline/sim/syncpub"
	"stationdesk/offline/verify"
)

// TestServeEndToEnd runs the headless station against the sync publisher
// on loopback, drives it with the signing load generator, then switches
// central off and checks the gates keep getting answers.
func TestServeEndToEnd(t *testing.T) {
	ctx := context.Background()
	src := syncpub.NewSynthetic(2000, 3, time.Now())
	pub, err := syncpub.New(ctx, syncpub.Config{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	up := true
	mux := http.NewServeMux()
	mux.Handle("/v1/sync/", http.StripPrefix("/v1/sync", pub.Handler()))
	mux.HandleFunc("/v1/gate-events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"accepted":0,"duplicates":0}`))
	})
	central := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	defer central.Close()

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "serve.toml")
	os.WriteFile(cfgPath, []byte(`data_dir = "`+dir+`"
listen = "127.0.0.1:0"
mode = "enforce"
station_id = "st-test"
[central]
url = "`+central.URL+`"
`), 0o600)
	if _, err := ledger.LoadOrCreateKeys(dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := verify.LoadServeConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	st, err := verify.Start(ctx, cfg, verify.Deps{PinnedKey: syncpub.DemoKeys().ManifestPublic, Listener: l})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	for deadline := time.Now().Add(60 * time.Second); st.Cache.Freshness().FreshAsOf.IsZero(); {
		if time.Now().After(deadline) {
			t.Fatal("no first sync within 60 s")
		}
		time.Sleep(50 * time.Millisecond) // poll interval; the deadline decides
	}
	kh, err := st.Server.AddGate("gate-e2e", "sup1")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := app.ParseGateKey(kh)
	cards := []string{syncpub.SyntheticCardNumber(0), syncpub.SyntheticCardNumber(1), "qr:" + pub.IssueQR(1, time.Now())}
	run := func() *gatesim.Result {
		r, err := gatesim.Run(ctx, gatesim.Options{Target: "http://" + st.Addr.String(), Gate: "gate-e2e", Key: key, Rate: 50, Duration: time.Second, Cards: cards})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := run()
	if r.OK != r.Sent || r.BadSig != 0 || r.OK == 0 {
		t.Fatalf("online: %s", r.Summary())
	}
	up = false
	r = run()
	if r.OK != r.Sent || r.OK == 0 {
		t.Fatalf("central off: %s", r.Summary())
	}
	if len(st.Server.Recent(5)) == 0 {
		t.Fatal("no recent decisions")
	}
}
