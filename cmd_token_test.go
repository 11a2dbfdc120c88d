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

// TestGatesAdminToken: a supervisor makes the station admin token (0600,
// only its keyed hash in the data folder); gates commands accept it
// instead of --operator and the PIN and audit the change as operator
// admin-token; a wrong, another station's, replaced or revoked token, a
// missing file, or a token together with --operator changes nothing,
// exits non-zero with a clear message and the refusal is audited; the
// token cannot make tokens.
func TestGatesAdminToken(t *testing.T) {
	dir, pin, clerk := gatesFolder(t)
	other, otherPin, _ := gatesFolder(t)
	tmp := t.TempDir()
	tok := filepath.Join(tmp, "admin.token")
	code, out, errOut := runCLI("gates", "token", "create", "--out", tok, "--data", dir, "--operator", "1001", "--pin-file", pin)
	if code != 0 {
		t.Fatalf("token create: %d %s %s", code, out, errOut)
	}
	raw, _ := os.ReadFile(tok)
	secret := strings.TrimSpace(string(raw))
	id := verify.AdminTokenID(secret)
	if !strings.HasPrefix(secret, verify.AdminTokenPrefix) || len(secret) != len(verify.AdminTokenPrefix)+64 || !strings.Contains(out, id) || strings.Contains(out, secret) {
		t.Fatalf("token %q, output %s", secret, out)
	}
	for _, f := range []string{tok, filepath.Join(dir, "gate", verify.AdminTokenFileName)} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	if rec, _ := os.ReadFile(filepath.Join(dir, "gate", verify.AdminTokenFileName)); strings.Contains(string(rec), secret[len(verify.AdminTokenPrefix):]) {
		t.Fatal("the token in clear in the data folder")
	}
	otherTok := filepath.Join(tmp, "other.token")
	if code, _, e := runCLI("gates", "token", "create", "--out", otherTok, "--data", other, "--operator", "1001", "--pin-file", otherPin); code != 0 {
		t.Fatal(e)
	}
	wrong := filepath.Join(tmp, "wrong.token")
	os.WriteFile(wrong, []byte(verify.AdminTokenPrefix+strings.Repeat("0", 64)+"\n"), 0o600)
	garbage := filepath.Join(tmp, "garbage.token")
	os.WriteFile(garbage, []byte("246813\n"), 0o600)

	prov := filepath.Join(tmp, "g1.json")
	if code, out, e := runCLI("gates", "add", "g1", "--data", dir, "--admin-token-file", tok, "--endpoint", "http://10.20.0.2:8443", "--out", prov); code != 0 || !strings.Contains(out, "key 1") {
		t.Fatalf("add with the token: %d %s %s", code, out, e)
	}
	if code, _, e := runCLI("gates", "mode", "enforce", "--data", dir, "--admin-token-file", tok); code != 0 {
		t.Fatalf("mode with the token: %s", e)
	}

	add2 := func(extra ...string) []string {
		return append([]string{"gates", "add", "g2", "--data", dir, "--endpoint", "http://x", "--out", filepath.Join(tmp, "g2.json")}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"ErrWrongToken", add2("--admin-token-file", wrong), 1, "admin token is wrong"},
		{"ErrNotAToken", add2("--admin-token-file", garbage), 1, "admin token is wrong"},
		{"ErrOtherStationsToken", add2("--admin-token-file", otherTok), 1, "admin token is wrong"},
		{"ErrMissingFile", add2("--admin-token-file", filepath.Join(tmp, "none")), 2, "cannot read the admin token file"},
		{"ErrTokenAndOperator", add2("--admin-token-file", tok, "--operator", "1001", "--pin-file", pin), 2, "not both"},
		{"ErrTokenMakesToken", []string{"gates", "token", "create", "--out", filepath.Join(tmp, "t2"), "--data", dir, "--admin-token-file", tok}, 2, "cannot make or revoke"},
		{"ErrClerkMakesToken", []string{"gates", "token", "create", "--out", filepath.Join(tmp, "t3"), "--data", dir, "--operator", "2001", "--pin-file", clerk}, 1, "Only the duty supervisor"},
		{"ErrOutExists", []string{"gates", "token", "create", "--out", tok, "--data", dir, "--operator", "1001", "--pin-file", pin}, 2, "exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stdout %s stderr %s; want %d and %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
	ks, err := verify.OpenStationRegistry(verify.ServeConfig{DataDir: dir}, nil, app.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	if ks.Keys("g2") != nil || ks.Keys("g1") == nil || ks.Mode() != app.ModeEnforce {
		t.Fatalf("registry after the refusals: g1 %v g2 %v mode %s", ks.Keys("g1") != nil, ks.Keys("g2") != nil, ks.Mode())
	}
	if _, err := os.Stat(filepath.Join(tmp, "t2")); err == nil {
		t.Fatal("a refused token create wrote a token file")
	}

	// A new token replaces the old one; revoke leaves none.
	tok2 := filepath.Join(tmp, "admin2.token")
	if code, _, e := runCLI("gates", "token", "create", "--out", tok2, "--data", dir, "--operator", "1001", "--pin-file", pin); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := runCLI("gates", "revoke", "g1", "--data", dir, "--admin-token-file", tok); code != 1 || !strings.Contains(e, "replaced") {
		t.Fatalf("replaced token: %d %s", code, e)
	}
	raw2, _ := os.ReadFile(tok2)
	id2 := verify.AdminTokenID(strings.TrimSpace(string(raw2)))
	if code, out, e := runCLI("gates", "token", "revoke", "--data", dir, "--operator", "1001", "--pin-file", pin); code != 0 || !strings.Contains(out, id2) {
		t.Fatalf("token revoke: %d %s %s", code, out, e)
	}
	if code, _, e := runCLI("gates", "revoke", "g1", "--data", dir, "--admin-token-file", tok2); code != 1 || !strings.Contains(e, "no station admin token") {
		t.Fatalf("revoked token: %d %s", code, e)
	}
	if ks.Reload(); ks.Keys("g1") == nil {
		t.Fatal("a refused token revoked the gate")
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
		if strings.Contains(e.Detail, secret[len(verify.AdminTokenPrefix):]) {
			t.Fatal("token in the audit log")
		}
	}
	all := strings.Join(got, "\n")
	for _, w := range []string{
		"1001 gate.admin-token admin_token.create token=" + id + " via=cli success",
		"admin-token gate:g1 gate.add key_id=1 via=cli token=" + id + " success",
		"admin-token gate.mode from=test to=enforce via=cli token=" + id + " success",
		"admin-token gate.registry admin_token_wrong via=cli denied",
		"admin-token gate.registry admin_token_none via=cli denied",
		"1001 gate.admin-token admin_token.revoke token=" + id2 + " via=cli success",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("audit lacks %q; has\n%s", w, all)
		}
	}
}

// TestSetupAdminToken: setup --admin-token-out makes the token with the
// folder; gates accepts it; the creation is audited by the first
// supervisor; an existing output file stops setup before it starts.
func TestSetupAdminToken(t *testing.T) {
	root := t.TempDir()
	data, cfg, tok := filepath.Join(root, "data"), filepath.Join(root, "desk.toml"), filepath.Join(root, "admin.token")
	args := []string{"--station-id", "st-0101", "--central", "https://central.example", "--supervisor", "1001", "--data", data, "--config", cfg, "--admin-token-out", tok}
	if os.Geteuid() == 0 {
		args = append(args, "--user", "root")
	}
	var o, e strings.Builder
	if code := runSetup(context.Background(), args, strings.NewReader("246813\n246813\n"), &o, &e); code != 0 {
		t.Fatalf("setup: %d %s %s", code, o.String(), e.String())
	}
	raw, err := os.ReadFile(tok)
	if err != nil {
		t.Fatal(err)
	}
	id := verify.AdminTokenID(strings.TrimSpace(string(raw)))
	if !strings.Contains(e.String(), "Station admin token "+id) {
		t.Fatalf("setup output: %s", e.String())
	}
	if fi, _ := os.Stat(tok); fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v", fi.Mode())
	}
	if code, out, e := runCLI("gates", "add", "gate-01", "--data", data, "--admin-token-file", tok, "--endpoint", "http://127.0.0.1:8443", "--out", filepath.Join(root, "g.json")); code != 0 {
		t.Fatalf("gates add with the setup's token: %d %s %s", code, out, e)
	}
	l, err := ledger.OpenDir(context.Background(), data, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	es, err := l.List(context.Background(), app.AuditFilter{Action: app.ActConfigChange})
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, e := range es {
		all = append(all, e.Operator+" "+e.Subject+" "+e.Detail)
	}
	if s := strings.Join(all, "\n"); !strings.Contains(s, "1001 gate.admin-token admin_token.create token="+id+" via=setup") || !strings.Contains(s, "admin-token gate:gate-01 gate.add") {
		t.Fatalf("audit:\n%s", s)
	}

	// An existing output file: refused before any folder is made.
	data2 := filepath.Join(root, "data2")
	args = []string{"--station-id", "st-0101", "--central", "https://central.example", "--supervisor", "1001", "--data", data2, "--config", filepath.Join(root, "d2.toml"), "--admin-token-out", tok}
	if os.Geteuid() == 0 {
		args = append(args, "--user", "root")
	}
	e.Reset()
	if code := runSetup(context.Background(), args, strings.NewReader("246813\n246813\n"), &o, &e); code == 0 || !strings.Contains(e.String(), "exists") {
		t.Fatalf("setup over an existing token file: %d %s", code, e.String())
	}
	if _, err := os.Stat(data2); err == nil {
		t.Fatal("setup made the folder although it refused")
	}
}
