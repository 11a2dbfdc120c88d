package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stationdesk/app"
	"stationdesk/offline/ledger"
	"stationdesk/offline/verify"
)

// gatesFolder makes a data folder as setup leaves it: station keys, a
// ledger and supervisor 1001 (PIN in the returned file), clerk 2001.
func gatesFolder(t *testing.T) (dir, pinFile, clerkPin string) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	l, err := ledger.OpenDir(ctx, dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sup := app.Operator{ID: "1001", DisplayName: "Sup", Role: app.RoleSupervisor}
	if err := l.CreateFirstSupervisor(ctx, sup, "246813"); err != nil {
		t.Fatal(err)
	}
	if err := l.CreateOperator(ctx, sup, app.Operator{ID: "2001", DisplayName: "Clerk", Role: app.RoleClerk}, "135792"); err != nil {
		t.Fatal(err)
	}
	pinFile = filepath.Join(dir, "..", filepath.Base(dir)+".pin")
	os.WriteFile(pinFile, []byte("246813\n"), 0o600)
	clerkPin = filepath.Join(dir, "..", filepath.Base(dir)+".clerk")
	os.WriteFile(clerkPin, []byte("135792\n"), 0o600)
	return dir, pinFile, clerkPin
}

// TestGatesCLI: add prints the key once and writes a provisioning file the
// key in the registry matches; the registry file holds no clear key; a
// clerk or a wrong PIN changes nothing; every change is in the audit log;
// mode set here stands against the configuration's.
func TestGatesCLI(t *testing.T) {
	dir, pin, clerk := gatesFolder(t)
	prov := filepath.Join(t.TempDir(), "g1.json")
	code, out, errOut := runCLI("gates", "add", "g1", "--data", dir, "--operator", "1001", "--pin-file", pin,
		"--endpoint", "http://10.20.0.2:8443", "--endpoint", "http://10.20.0.3:8443", "--out", prov)
	if code != 0 {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	b, err := os.ReadFile(prov)
	if err != nil {
		t.Fatal(err)
	}
	p, key, err := verify.ParseProvisioning(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, p.Key) || len(p.Key) != 64 || p.GateID != "g1" || len(p.Endpoints) != 2 || p.KeyID != 1 {
		t.Fatalf("provisioning %+v / output %s", p, out)
	}
	if fi, _ := os.Stat(prov); fi.Mode().Perm() != 0o600 {
		t.Fatalf("provisioning file mode %v", fi.Mode())
	}
	reg, _ := os.ReadFile(filepath.Join(dir, "gate", "gates.json"))
	if strings.Contains(string(reg), p.Key) {
		t.Fatal("gate key in clear in gates.json")
	}
	ks, err := verify.OpenStationRegistry(verify.ServeConfig{DataDir: dir}, nil, app.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	if k := ks.Keys("g1"); len(k) != 1 || k[0] != key {
		t.Fatal("registry key differs from the provisioning file's")
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"ErrClerk", []string{"gates", "revoke", "g1", "--data", dir, "--operator", "2001", "--pin-file", clerk}, 1, "Only the duty supervisor"},
		{"ErrWrongPIN", []string{"gates", "revoke", "g1", "--data", dir, "--operator", "1001", "--pin-file", clerk}, 1, ""},
		{"ErrNoOperator", []string{"gates", "revoke", "g1", "--data", dir, "--pin-file", pin}, 2, "--operator"},
		{"ErrExists", []string{"gates", "add", "g1", "--data", dir, "--operator", "1001", "--pin-file", pin, "--out", prov}, 1, "exists"},
		{"ErrBadMode", []string{"gates", "mode", "fast", "--data", dir, "--operator", "1001", "--pin-file", pin}, 2, "mode"},
		{"ErrNoKeys", []string{"gates", "list", "--data", t.TempDir()}, 1, "stationdesk setup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stdout %s stderr %s; want %d and %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
	if ks.Reload(); ks.Keys("g1") == nil {
		t.Fatal("a refused revoke revoked")
	}
	if code, out, errOut := runCLI("gates", "rotate", "g1", "--data", dir, "--operator", "1001", "--pin-file", pin, "--out", prov); code != 0 || !strings.Contains(out, "key 2") {
		t.Fatalf("rotate: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runCLI("gates", "mode", "enforce", "--data", dir, "--operator", "1001", "--pin-file", pin); code != 0 {
		t.Fatalf("mode: %s", errOut)
	}
	if code, _, errOut := runCLI("gates", "revoke", "g1", "--data", dir, "--operator", "1001", "--pin-file", pin); code != 0 {
		t.Fatalf("revoke: %s", errOut)
	}
	code, out, _ = runCLI("gates", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "mode enforce (set by operator)") || !strings.Contains(out, "revoked") {
		t.Fatalf("list: %s", out)
	}
	ks.Reload()
	if m, fromCfg, _ := ks.ApplyConfigMode(app.ModeTest); m != app.ModeEnforce || fromCfg {
		t.Fatalf("config mode overrode the operator's: %s", m)
	}

	l, err := ledger.OpenDir(context.Background(), dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	es, err := l.List(context.Background(), app.AuditFilter{Action: app.ActConfigChange})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Operator+" "+e.Subject+" "+e.Detail+" "+string(e.Outcome))
		if strings.Contains(e.Detail, p.Key) {
			t.Fatal("key in the audit log")
		}
	}
	all := strings.Join(got, "\n")
	for _, w := range []string{"1001 gate:g1 gate.add key_id=1 via=cli success", "1001 gate:g1 gate.rotate key_id=2 via=cli success",
		"1001 gate.mode from=test to=enforce via=cli success", "1001 gate:g1 gate.revoke via=cli success", "2001 gate.registry not_supervisor via=cli denied",
		"1001 gate:g1 gate.add key_id=0 via=cli failure"} {
		if !strings.Contains(all, w) {
			t.Errorf("audit lacks %q; has\n%s", w, all)
		}
	}
}

// TestGatesExportImport: a second data folder with its own station keys
// takes the first's gates from a signed export; a changed byte or a wrong
// passphrase is refused and changes nothing.
func TestGatesExportImport(t *testing.T) {
	a, pinA, _ := gatesFolder(t)
	b, pinB, _ := gatesFolder(t)
	tmp := t.TempDir()
	pass := filepath.Join(tmp, "pass")
	os.WriteFile(pass, []byte("correct horse battery staple\n"), 0o600)
	wrong := filepath.Join(tmp, "wrong")
	os.WriteFile(wrong, []byte("incorrect horse battery staple\n"), 0o600)
	for _, g := range []string{"g1", "g2"} {
		if code, _, e := runCLI("gates", "add", g, "--data", a, "--operator", "1001", "--pin-file", pinA, "--out", filepath.Join(tmp, g+".json"), "--endpoint", "http://x"); code != 0 {
			t.Fatal(e)
		}
	}
	exp := filepath.Join(tmp, "reg.json")
	if code, out, e := runCLI("gates", "export", "--out", exp, "--data", a, "--operator", "1001", "--pin-file", pinA, "--passphrase-file", pass); code != 0 {
		t.Fatal(out, e)
	}
	raw, _ := os.ReadFile(exp)
	p1, _ := os.ReadFile(filepath.Join(tmp, "g1.json"))
	pv, _, _ := verify.ParseProvisioning(p1)
	if strings.Contains(string(raw), pv.Key) {
		t.Fatal("export holds a key in clear")
	}
	bad := filepath.Join(tmp, "bad.json")
	os.WriteFile(bad, []byte(strings.Replace(string(raw), `"g2"`, `"g3"`, 1)), 0o600)
	if code, _, e := runCLI("gates", "import", bad, "--data", b, "--operator", "1001", "--pin-file", pinB, "--passphrase-file", pass); code != 2 || !strings.Contains(e, "altered") {
		t.Fatalf("altered export: %d %s", code, e)
	}
	if code, _, e := runCLI("gates", "import", exp, "--data", b, "--operator", "1001", "--pin-file", pinB, "--passphrase-file", wrong); code != 2 || !strings.Contains(e, "wrong passphrase") {
		t.Fatalf("wrong passphrase: %d %s", code, e)
	}
	if _, out, _ := runCLI("gates", "list", "--data", b); !strings.Contains(out, "no gates") {
		t.Fatalf("a refused import changed the registry: %s", out)
	}
	if code, out, e := runCLI("gates", "import", exp, "--data", b, "--operator", "1001", "--pin-file", pinB, "--passphrase-file", pass); code != 0 || !strings.Contains(out, "imported 2 gates") {
		t.Fatal(out, e)
	}
	ks, err := verify.OpenStationRegistry(verify.ServeConfig{DataDir: b}, nil, app.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := app.ParseGateKey(pv.Key)
	if got := ks.Keys("g1"); len(got) != 1 || got[0] != k {
		t.Fatal("the second server does not hold g1's key")
	}
}

// TestGatesCertAndTLSProvisioning: gates cert makes a certificate whose
// printed pin is its SHA-256, refuses to overwrite it, and with tls_cert
// in the config add writes https endpoints and the pin.
func TestGatesCertAndTLSProvisioning(t *testing.T) {
	dir, pin, _ := gatesFolder(t)
	code, out, e := runCLI("gates", "cert", "--data", dir, "--host", "127.0.0.1,station-gw")
	if code != 0 {
		t.Fatal(out, e)
	}
	cert, key := filepath.Join(dir, "gate", "tls-cert.pem"), filepath.Join(dir, "gate", "tls-key.pem")
	p, err := verify.CertFilePin(cert)
	if err != nil || !strings.Contains(out, "sha256 pin  "+p) {
		t.Fatalf("pin %s %v in\n%s", p, err, out)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
	if code, _, e := runCLI("gates", "cert", "--data", dir, "--host", "127.0.0.1"); code != 1 || !strings.Contains(e, "exists") {
		t.Fatalf("overwrite: %d %s", code, e)
	}
	if code, _, _ := runCLI("gates", "cert", "--data", t.TempDir()); code != 2 {
		t.Fatal("no --host accepted")
	}
	cfg := filepath.Join(t.TempDir(), "serve.toml")
	os.WriteFile(cfg, []byte(`data_dir = "`+dir+`"
listen = "127.0.0.1:8443"
station_id = "st-0101"
tls_cert = "`+cert+`"
tls_key = "`+key+`"
[central]
url = "http://127.0.0.1:1"
`), 0o600)
	prov := filepath.Join(t.TempDir(), "g.json")
	if code, out, e := runCLI("gates", "add", "g1", "--config", cfg, "--operator", "1001", "--pin-file", pin, "--out", prov); code != 0 {
		t.Fatal(out, e)
	}
	b, _ := os.ReadFile(prov)
	pv, _, err := verify.ParseProvisioning(b)
	if err != nil || pv.TLSCertSHA256 != p || pv.Endpoints[0] != "https://127.0.0.1:8443" || pv.StationID != "st-0101" {
		t.Fatalf("provisioning %+v %v", pv, err)
	}
}
