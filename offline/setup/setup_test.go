package setup

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"stationdesk/app"
	"stationdesk/assets"
	"stationdesk/offline/datadir"
	"stationdesk/offline/ledger"
)

const pin = "735194"

func newPlan(t *testing.T) Plan {
	t.Helper()
	dir := t.TempDir()
	return Plan{
		DataDir:    filepath.Join(dir, "var", "stationdesk-desk"),
		ConfigPath: filepath.Join(dir, "etc", "stationdesk.toml"),
		StationID:  "BJ-0101",
		CentralURL: "https://central.example.invalid:8443",
		Supervisor: app.Operator{ID: "S001", DisplayName: "Zhang"},
	}
}

func mustRun(t *testing.T, p Plan, pin string) Report {
	t.Helper()
	need, err := Check(&p)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !need {
		t.Fatal("Check says no PIN is needed for a new folder")
	}
	r, err := Run(context.Background(), p, pin)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

func openLedger(t *testing.T, dir string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.OpenDir(context.Background(), dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestCreatesProductionFolder(t *testing.T) {
	p := newPlan(t)
	r := mustRun(t, p, pin)
	if r.Action != "created" || r.Config != "written" || r.Supervisor != "S001" || r.Operators != 1 || r.KeyID == "" {
		t.Fatalf("report %+v", r)
	}
	if len(r.Migrations) == 0 || r.Schema != len(r.Migrations) {
		t.Fatalf("a new ledger applies every migration: %v, schema %d", r.Migrations, r.Schema)
	}
	if len(r.Todo) < 3 {
		t.Fatalf("todo %v", r.Todo)
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{p.DataDir: 0o700, filepath.Join(p.DataDir, ledger.KeyFileName): 0o600} {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != want {
				t.Errorf("%s is %v, want %v", path, st.Mode().Perm(), want)
			}
		}
	}
	// The account works with the chosen PIN, and only with it.
	l := openLedger(t, p.DataDir)
	op, err := l.Login(context.Background(), "S001", pin)
	if err != nil || op.Role != app.RoleSupervisor {
		t.Fatalf("login: %+v %v", op, err)
	}
	if _, err := l.Login(context.Background(), "S001", "482916"); err == nil {
		t.Fatal("another PIN logs in")
	}
	// The configuration holds this station's values and nothing unknown.
	var c struct {
		DataDir    string `toml:"data_dir"`
		StationID  string `toml:"station_id"`
		TerminalID string `toml:"terminal_id"`
		Central    struct {
			URL string `toml:"url"`
		} `toml:"central"`
	}
	b, err := os.ReadFile(p.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := toml.Decode(string(b), &c); err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, b)
	}
	abs, _ := filepath.Abs(p.DataDir)
	if c.DataDir != abs || c.StationID != "BJ-0101" || c.TerminalID != "T01" || c.Central.URL != p.CentralURL {
		t.Fatalf("config values %+v", c)
	}
	if !bytes.Contains(b, []byte("# Where the ledger")) {
		t.Error("the example's comments were dropped")
	}
	if bytes.Contains(b, []byte(pin)) {
		t.Error("the PIN is in the configuration file")
	}
}

// An existing folder with data is never set up again: the keys, the
// ledger and the configuration stay byte for byte.
func TestRefusesExistingFolder(t *testing.T) {
	p := newPlan(t)
	mustRun(t, p, pin)
	keys, _ := os.ReadFile(filepath.Join(p.DataDir, ledger.KeyFileName))
	cfg, _ := os.ReadFile(p.ConfigPath)
	again := p
	again.StationID = "BJ-0202"
	_, err := Check(&again)
	if app.ErrorReason(err) != "data_dir_exists" || app.ErrorCode(err) != app.CodeConflict {
		t.Fatalf("second setup: %v", err)
	}
	k2, _ := os.ReadFile(filepath.Join(p.DataDir, ledger.KeyFileName))
	c2, _ := os.ReadFile(p.ConfigPath)
	if !bytes.Equal(keys, k2) || !bytes.Equal(cfg, c2) {
		t.Fatal("a refused setup changed the keys or the configuration")
	}
}

func TestConfigFile(t *testing.T) {
	t.Run("the shipped example is replaced", func(t *testing.T) {
		p := newPlan(t)
		os.MkdirAll(filepath.Dir(p.ConfigPath), 0o755)
		os.WriteFile(p.ConfigPath, assets.ConfigExample, 0o644)
		if r := mustRun(t, p, pin); r.Config != "replaced the example" {
			t.Fatalf("config %q", r.Config)
		}
	})
	t.Run("an edited file is refused before anything is made", func(t *testing.T) {
		p := newPlan(t)
		os.MkdirAll(filepath.Dir(p.ConfigPath), 0o755)
		os.WriteFile(p.ConfigPath, []byte("station_id = \"BJ-9\"\n"), 0o644)
		_, err := Check(&p)
		if app.ErrorReason(err) != "config_exists" {
			t.Fatalf("got %v", err)
		}
		if _, err := os.Stat(p.DataDir); !os.IsNotExist(err) {
			t.Fatal("the data folder was made although setup refused")
		}
	})
	t.Run("an empty existing folder is used", func(t *testing.T) {
		p := newPlan(t)
		os.MkdirAll(p.DataDir, 0o755)
		mustRun(t, p, pin)
	})
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*Plan)
		reason string
	}{
		{"station id", func(p *Plan) { p.StationID = "BJ 0101" }, "station_id"},
		{"no station id", func(p *Plan) { p.StationID = "" }, "station_id"},
		{"terminal id", func(p *Plan) { p.TerminalID = "T/1" }, "terminal_id"},
		{"central not a URL", func(p *Plan) { p.CentralURL = "central" }, "central_url"},
		{"central plain http", func(p *Plan) { p.CentralURL = "http://10.1.2.3:8700" }, "central_url_http"},
		{"central with a password", func(p *Plan) { p.CentralURL = "https://u:p@central" }, "central_url"},
		{"no supervisor", func(p *Plan) { p.Supervisor.ID = "" }, "supervisor_missing"},
		{"supervisor number", func(p *Plan) { p.Supervisor.ID = "S-001" }, "operator_id"},
		{"upgrade of nothing", func(p *Plan) { p.Upgrade = true }, "data_dir_missing"},
		{"upgrade writing a config without a station", func(p *Plan) { p.DataDir = copyOld(t); p.Upgrade = true; p.StationID = "" }, "station_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPlan(t)
			c.edit(&p)
			if _, err := Check(&p); app.ErrorReason(err) != c.reason {
				t.Fatalf("got %v, want reason %s", err, c.reason)
			}
			if _, err := os.Stat(p.DataDir); !p.Upgrade && !os.IsNotExist(err) {
				t.Fatal("the data folder was made")
			}
		})
	}
	t.Run("http to this machine is allowed (test rigs)", func(t *testing.T) {
		p := newPlan(t)
		p.CentralURL = "http://127.0.0.1:8700"
		if _, err := Check(&p); err != nil {
			t.Fatal(err)
		}
	})
	for _, bad := range []string{"", "12345", "111111", "123456", "654321", "12a456"} {
		t.Run("PIN "+bad, func(t *testing.T) {
			p := newPlan(t)
			if _, err := Check(&p); err != nil {
				t.Fatal(err)
			}
			_, err := Run(context.Background(), p, bad)
			if app.ErrorCode(err) != app.CodeInvalid {
				t.Fatalf("PIN %q: %v", bad, err)
			}
			if _, err := os.Stat(p.DataDir); !os.IsNotExist(err) {
				t.Fatal("a refused PIN left a data folder behind")
			}
		})
	}
}

// copyOld installs the data folder an old build made (testdata/
// ledger-schema1: written by the code at commit 9e35ca0, the last one
// with ledger schema 1, with supervisor S001 PIN 735194 and assistant
// C101 PIN 482916) the way that install had it: keys 0600.
func copyOld(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "desk")
	if err := os.Mkdir(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ledger.db", ledger.KeyFileName} {
		b, err := os.ReadFile(filepath.Join("testdata", "ledger-schema1", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestUpgradeKeepsOldData(t *testing.T) {
	dir := copyOld(t)
	keys, _ := os.ReadFile(filepath.Join(dir, ledger.KeyFileName))
	cfg := filepath.Join(t.TempDir(), "stationdesk.toml")
	p := Plan{DataDir: dir, ConfigPath: cfg, Upgrade: true, StationID: "BJ-0101", CentralURL: "https://central.example.invalid"}
	need, err := Check(&p)
	if err != nil || need {
		t.Fatalf("Check: need PIN %v, %v", need, err)
	}
	r, err := Run(context.Background(), p, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Action != "upgraded" || r.Operators != 2 || r.Supervisor != "" || r.Config != "written" {
		t.Fatalf("report %+v", r)
	}
	if len(r.Migrations) == 0 || r.Migrations[0] == "0001_init.sql" {
		t.Fatalf("an upgrade from schema 1 applies the later migrations only: %v", r.Migrations)
	}
	if k2, _ := os.ReadFile(filepath.Join(dir, ledger.KeyFileName)); !bytes.Equal(keys, k2) {
		t.Fatal("the upgrade replaced the station keys")
	}
	// The old accounts, their PINs and the audit chain all survive.
	l := openLedger(t, dir)
	ctx := context.Background()
	for id, pin := range map[string]string{"S001": "735194", "C101": "482916"} {
		if _, err := l.Login(ctx, id, pin); err != nil {
			t.Errorf("old account %s: %v", id, err)
		}
	}
	v, err := l.Verify(ctx)
	if err != nil || !v.OK || v.Entries < 3 {
		t.Fatalf("audit chain after the upgrade: %+v %v", v, err)
	}
	// A second upgrade has nothing left to migrate and keeps the
	// configuration the first one wrote.
	again := p
	if _, err := Check(&again); err != nil {
		t.Fatal(err)
	}
	l.Close()
	r2, err := Run(ctx, again, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(r2.Migrations) != 0 || r2.Config != "kept" {
		t.Fatalf("second upgrade %+v", r2)
	}
}

func TestUpgradeNeverMakesNewKeys(t *testing.T) {
	dir := copyOld(t)
	os.Remove(filepath.Join(dir, ledger.KeyFileName))
	p := Plan{DataDir: dir, ConfigPath: filepath.Join(t.TempDir(), "c.toml"), Upgrade: true, StationID: "BJ-0101", CentralURL: "https://central.example.invalid"}
	if _, err := Check(&p); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), p, ""); app.ErrorReason(err) != "keys_missing" {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ledger.KeyFileName)); !os.IsNotExist(err) {
		t.Fatal("new keys were made for a folder with data")
	}
}

// TestSetupLocksAndMarksTheFolder: setup writes the production marker
// itself (not the desk's first start), refuses a folder another process
// holds, naming the folder and the holder's PID, and never upgrades a
// demo folder into a production one.
func TestSetupLocksAndMarksTheFolder(t *testing.T) {
	t.Run("MarkerWritten", func(t *testing.T) {
		p := newPlan(t)
		mustRun(t, p, pin)
		k, ok, err := datadir.ReadKind(p.DataDir)
		if err != nil || !ok || k != datadir.Production {
			t.Fatalf("marker after setup: %q %v %v", k, ok, err)
		}
	})
	t.Run("LockedFolderRefused", func(t *testing.T) {
		p := newPlan(t)
		held, err := datadir.Open(p.DataDir, datadir.Production)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		if _, err := Check(&p); err != nil {
			t.Fatal(err)
		}
		_, err = Run(context.Background(), p, pin)
		if app.ErrorReason(err) != "data_dir_locked" || !strings.Contains(app.UserMessage(err, app.LangEN), "PID "+strconv.Itoa(os.Getpid())) ||
			!strings.Contains(app.UserMessage(err, app.LangEN), p.DataDir) {
			t.Fatalf("setup on a held folder: %v", err)
		}
		if _, err := os.Stat(filepath.Join(p.DataDir, ledger.FileName)); err == nil {
			t.Fatal("setup made a ledger in a folder another process holds")
		}
	})
	t.Run("DemoFolderNotUpgraded", func(t *testing.T) {
		p := newPlan(t)
		d, err := datadir.Open(p.DataDir, datadir.Demo)
		if err != nil {
			t.Fatal(err)
		}
		l, err := ledger.OpenDir(context.Background(), p.DataDir, ledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		d.Close()
		p.Upgrade = true
		if _, err := Check(&p); err != nil {
			t.Fatal(err)
		}
		if _, err := Run(context.Background(), p, pin); app.ErrorReason(err) != "data_dir_kind" {
			t.Fatalf("upgrade of a demo folder: %v", err)
		}
	})
}
