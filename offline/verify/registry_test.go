package verify

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stationdesk/app"
)

func sealKeyForTest(b byte) *[32]byte {
	var enc [32]byte
	for i := range enc {
		enc[i] = b
	}
	k := RegistryKey(enc)
	return &k
}

// TestRegistrySealedAtRest: with the station key the file never holds a
// gate key in clear, reopens with the same key and refuses another.
func TestRegistrySealedAtRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gates.json")
	ks, err := OpenRegistry(path, KeyStoreOptions{Seal: sealKeyForTest(1)})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.Add("g1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), key) || !strings.Contains(string(b), `"sealed"`) {
		t.Fatalf("key in clear or not sealed:\n%s", b)
	}
	again, err := OpenRegistry(path, KeyStoreOptions{Seal: sealKeyForTest(1)})
	if err != nil {
		t.Fatal(err)
	}
	if k := again.Keys("g1"); len(k) != 1 || k[0] != mustKey(t, key) {
		t.Fatal("reopened registry lost the key")
	}
	if _, err := OpenRegistry(path, KeyStoreOptions{Seal: sealKeyForTest(2)}); app.ErrorReason(err) != "registry_key" {
		t.Fatalf("other station key: %v", err)
	}
	if _, err := OpenKeyStore(path, app.SystemClock{}); app.ErrorReason(err) != "registry_sealed" {
		t.Fatalf("no station key: %v", err)
	}
}

func mustKey(t *testing.T, h string) app.GateKey {
	k, err := app.ParseGateKey(h)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRegistryMigratesClearFile: a gates.json written by an older build
// (clear keys, no version) is sealed on first open and keeps its gates,
// key ids, revocations and mode.
func TestRegistryMigratesClearFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gates.json")
	const k1 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	old := `{"mode":"enforce","gates":{"g1":{"id":"g1","keys":[{"id":3,"key":"` + k1 + `","created":"2026-01-01T00:00:00Z"}],"revoked":false,"next_key":4},"g2":{"id":"g2","keys":null,"revoked":true,"next_key":2}}}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := OpenRegistry(path, KeyStoreOptions{Seal: sealKeyForTest(1)})
	if err != nil {
		t.Fatal(err)
	}
	if !ks.Migrated {
		t.Fatal("not reported as migrated")
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), k1) {
		t.Fatalf("clear key still in the file:\n%s", b)
	}
	var st keyState
	if err := json.Unmarshal(b, &st); err != nil || st.Version != registryVersion {
		t.Fatalf("version: %v %d", err, st.Version)
	}
	if ks.Mode() != app.ModeEnforce || len(ks.Keys("g1")) != 1 || ks.Keys("g2") != nil {
		t.Fatalf("state lost: mode %s gates %+v", ks.Mode(), ks.Gates())
	}
	if g := ks.Gates(); len(g) != 2 || g[0].KeyIDs[0] != 3 || !g[1].Revoked {
		t.Fatalf("gates: %+v", g)
	}
	again, err := OpenRegistry(path, KeyStoreOptions{Seal: sealKeyForTest(1)})
	if err != nil || again.Migrated || len(again.Keys("g1")) != 1 {
		t.Fatalf("second open: %v migrated=%v", err, again.Migrated)
	}
}

// TestRegistrySharedBetweenProcesses: two stores on one file (serve and
// the gates command) see each other's changes; a change made from a stale
// view does not undo the other's.
func TestRegistrySharedBetweenProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gates.json")
	a, err := OpenRegistry(path, KeyStoreOptions{Seal: sealKeyForTest(1)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenRegistry(path, KeyStoreOptions{Seal: sealKeyForTest(1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add("g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add("g2"); err != nil { // b had not reloaded: must keep g1
		t.Fatal(err)
	}
	if len(b.Gates()) != 2 {
		t.Fatalf("b: %+v", b.Gates())
	}
	if b.activeKeys("g1") == nil {
		t.Fatal("b does not accept g1's key")
	}
	changed, err := a.Reload()
	if err != nil || !changed || a.activeKeys("g2") == nil {
		t.Fatalf("a reload: %v %v", changed, err)
	}
	if changed, _ := a.Reload(); changed {
		t.Fatal("reload without a change reported one")
	}
	if err := b.Revoke("g1"); err != nil {
		t.Fatal(err)
	}
	a.Reload()
	if a.activeKeys("g1") != nil {
		t.Fatal("revocation not seen by the other store")
	}
}

// TestRegistryModeRule: the configuration's mode is followed at each start
// until an operator sets one; then the registry's mode stands.
func TestRegistryModeRule(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gates.json")
	ks, err := OpenRegistry(path, KeyStoreOptions{Seal: sealKeyForTest(1), Mode: app.ModeEnforce})
	if err != nil {
		t.Fatal(err)
	}
	if ks.Mode() != app.ModeEnforce || ks.ModeSource() != ModeFromConfig {
		t.Fatalf("new registry: %s %s", ks.Mode(), ks.ModeSource())
	}
	ks.Add("g1")
	m, fromCfg, err := ks.ApplyConfigMode(app.ModeTest) // config edited, gates exist
	if err != nil || m != app.ModeTest || !fromCfg {
		t.Fatalf("config mode not followed: %s %v %v", m, fromCfg, err)
	}
	if err := ks.SetMode(app.ModeOff); err != nil {
		t.Fatal(err)
	}
	m, fromCfg, _ = ks.ApplyConfigMode(app.ModeEnforce)
	if m != app.ModeOff || fromCfg {
		t.Fatalf("operator mode overridden by config: %s %v", m, fromCfg)
	}
	again, _ := OpenRegistry(path, KeyStoreOptions{Seal: sealKeyForTest(1), Mode: app.ModeEnforce})
	if again.Mode() != app.ModeOff || again.ModeSource() != ModeFromOperator {
		t.Fatalf("reopened: %s %s", again.Mode(), again.ModeSource())
	}
}

// TestStatusListenApart: with a status listener of their own, /healthz
// and /metrics are JSON 404 on the gate listener and served on theirs.
func TestStatusListenApart(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	srv, err := New(Config{Lookup: f.cache, Trust: func() *Trust { return nil }, Keys: f.keys, Clock: f.clock, StatusSeparate: true})
	if err != nil {
		t.Fatal(err)
	}
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	sl, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, gl)
	go srv.ServeStatus(ctx, sl)
	get := func(addr, path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/healthz", "/metrics"} {
		if st, body := get(gl.Addr().String(), p); st != 404 || body != `{"error":"not_found"}` {
			t.Fatalf("gate listener %s: %d %s", p, st, body)
		}
		if st, _ := get(sl.Addr().String(), p); st != 200 {
			t.Fatalf("status listener %s: %d", p, st)
		}
	}
}

// TestServeReloadsRegistry: a gate added by another process is accepted
// by the running server once it reloads, and a mode set there is in force.
func TestServeReloadsRegistry(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	other, err := OpenKeyStore(f.keys.Path(), f.clock)
	if err != nil {
		t.Fatal(err)
	}
	kh, err := other.Add("gate-02")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.SetMode(app.ModeTest); err != nil {
		t.Fatal(err)
	}
	k, _ := app.ParseGateKey(kh)
	if r := f.do(t, f.request(t, cardBody(riders[0].card), signOpts{gate: "gate-02", key: &k})); r.status != 401 {
		t.Fatalf("before reload: %d", r.status)
	}
	f.srv.ReloadRegistry()
	r := f.do(t, f.request(t, cardBody(riders[0].card), signOpts{gate: "gate-02", key: &k}))
	if r.status != 200 || r.ans["mode"] != "test" {
		t.Fatalf("after reload: %d %s", r.status, r.body)
	}
}
