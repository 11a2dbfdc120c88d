package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"stationdesk/app"
	"stationdesk/app/config"
	"stationdesk/offline/datadir"
	"stationdesk/offline/ledger"
)

// startDesk starts the runtime as the desk does (demo or production,
// without central) on dir.
func startDesk(t *testing.T, dir string, demo bool) (*deskRuntime, error) {
	t.Helper()
	cfg := config.Config{DataDir: dir, Demo: demo, StationID: "BJ-0101"}
	cfg.Defaults()
	return startRuntime(context.Background(), cfg, io.Discard)
}

// productionFolder makes a production folder with a real supervisor.
func productionFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rt, err := startDesk(t, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.ledger.CreateFirstSupervisor(context.Background(), app.Operator{ID: "4711", DisplayName: "Li Wei", Role: app.RoleSupervisor}, "480276"); err != nil {
		t.Fatal(err)
	}
	rt.close()
	return dir
}

func operators(t *testing.T, dir string) []string {
	t.Helper()
	keys, err := ledger.LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), filepath.Join(dir, ledger.FileName), keys, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ops, err := l.ListOperators(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range ops {
		ids = append(ids, o.ID)
	}
	return ids
}

// TestDataWithoutConfigIsNotDemo: `--data DIR` alone on a folder with a
// station's records is a usage error in both languages; no demo account,
// no simulator, nothing is written there.
func TestDataWithoutConfigIsNotDemo(t *testing.T) {
	dir := productionFolder(t)
	code, out, errOut := runCLI("--data", dir)
	if code != 2 || !strings.Contains(errOut, "--data DIR needs --config FILE") || !strings.Contains(errOut, "不会自行在某个目录上启动演示模式") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if ids := operators(t, dir); len(ids) != 1 || ids[0] != "4711" {
		t.Fatalf("operators now %v", ids)
	}
	for _, n := range datadir.DemoOnlyNames() {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s was created", n)
		}
	}
}

// TestKindMismatchRefused: demo mode on a production folder and a
// production desk on a demo folder are both refused, in both languages.
func TestKindMismatchRefused(t *testing.T) {
	prod := productionFolder(t)
	code, _, errOut := runCLI("--demo", "--data", prod)
	if code != 1 || !strings.Contains(errOut, "is a production folder; demo mode never runs on it") || !strings.Contains(errOut, "是正式（生产）目录") {
		t.Fatalf("demo on a production folder: exit %d, %q", code, errOut)
	}
	if ids := operators(t, prod); len(ids) != 1 {
		t.Fatalf("operators now %v", ids)
	}

	demo := t.TempDir()
	rt, err := startDesk(t, demo, true)
	if err != nil {
		t.Fatal(err)
	}
	rt.close()
	cfgFile := filepath.Join(t.TempDir(), "desk.toml")
	os.WriteFile(cfgFile, []byte("station_id = \"BJ-0101\"\ndata_dir = "+strconv.Quote(demo)+"\n"), 0o600)
	code, _, errOut = runCLI("--config", cfgFile)
	if code != 1 || !strings.Contains(errOut, "is a demo folder") || !strings.Contains(errOut, "是演示目录") {
		t.Fatalf("production on a demo folder: exit %d, %q", code, errOut)
	}
}

// TestDemoAccountsInProductionRefused: a production folder that holds the
// demo accounts (public PINs) or the demo trust material does not start.
func TestDemoAccountsInProductionRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rt, err := startDesk(t, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	rt.close()
	// Make it look like a production folder that demo mode once ran on.
	for _, n := range datadir.DemoOnlyNames() {
		os.RemoveAll(filepath.Join(dir, n))
	}
	os.RemoveAll(filepath.Join(dir, "gate"))
	os.Remove(filepath.Join(dir, datadir.MarkerFile))
	_, err = startDesk(t, dir, false)
	if app.ErrorReason(err) != "demo_in_production" || !strings.Contains(err.Error(), "9001") {
		t.Fatalf("production start on demo accounts: %v", err)
	}

	// And a production start never creates them.
	clean := t.TempDir()
	rt, err = startDesk(t, clean, false)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := rt.ledger.SeedDemo(ctx, rt.dir, demoOperators()); app.ErrorReason(err) != "demo_accounts_production" || n != 0 {
		t.Fatalf("SeedDemo in production: %d, %v", n, err)
	}
	rt.close()
	if ids := operators(t, clean); len(ids) != 0 {
		t.Fatalf("a production start created %v", ids)
	}
}

// TestDemoKeysInProductionRefused: trust material under the public demo
// keys in a production folder stops the desk.
func TestDemoKeysInProductionRefused(t *testing.T) {
	dir := productionFolder(t)
	sync := filepath.Join(dir, "gate", "sync")
	os.MkdirAll(sync, 0o700)
	b, _ := json.Marshal(struct {
		KeyID string `json:"key_id"`
		Key   []byte `json:"key"`
	}{"demo-1", demoCardKey()})
	os.WriteFile(filepath.Join(sync, "cardkey.json"), b, 0o600)
	_, err := startDesk(t, dir, false)
	if app.ErrorReason(err) != "demo_in_production" || !strings.Contains(err.Error(), "cardkey.json") {
		t.Fatalf("production start on the demo card key: %v", err)
	}
}

// TestSecondDeskRefused: a second desk on a folder in use stops before it
// opens anything, naming the folder and the holder's PID.
func TestSecondDeskRefused(t *testing.T) {
	dir := t.TempDir()
	rt, err := startDesk(t, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.close()
	code, _, errOut := runCLI("--demo", "--data", dir)
	pid := "PID " + strconv.Itoa(os.Getpid())
	if code != 1 || !strings.Contains(errOut, pid) || !strings.Contains(errOut, dir) || !strings.Contains(errOut, "正被另一个进程") {
		t.Fatalf("second desk: exit %d, %q", code, errOut)
	}
}

// TestDeskFilesArePrivate: whatever the umask, the desk's folder is 0700
// and every file in it 0600 once it has started.
func TestDeskFilesArePrivate(t *testing.T) {
	old := setUmask(0o022)
	defer setUmask(old)
	dir := filepath.Join(t.TempDir(), "desk")
	rt, err := startDesk(t, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.close()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 || fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o", p, fi.Mode().Perm())
		}
		return nil
	})
}
