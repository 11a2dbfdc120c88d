package app_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pkg is what the layering checks read from `go list -json`.
type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

// TestLayering enforces the layering rule of docs/architecture.md: dependencies point inward at app.
// Each rule names the banned import prefixes for a folder and why.
func TestLayering(t *testing.T) {
	type rule struct {
		folder string   // package path prefix inside the module
		banned []string // import path prefixes (transitive)
		why    string
	}
	const mod = "stationdesk/"
	adapters := []string{mod + "ui", mod + "devices", mod + "offline"}
	rules := []rule{
		{"app", append([]string{"fyne.io/", "modernc.org/", "github.com/tarm/serial", "github.com/go-resty/", "github.com/creack/pty", "database/sql"}, adapters...),
			"app is the domain: standard library only, no GUI, SQL, serial or HTTP client"},
		{"devices", []string{"fyne.io/", "modernc.org/", "github.com/go-resty/", mod + "ui", mod + "offline"},
			"devices owns serial; it talks to the rest only through app"},
		{"offline", []string{"fyne.io/", "github.com/tarm/serial", mod + "ui", mod + "devices"},
			"offline owns SQLite, sync and HTTP; no GUI, no serial"},
		{"ui", []string{"modernc.org/", "github.com/tarm/serial", "github.com/go-resty/", "database/sql", mod + "devices", mod + "offline"},
			"ui is Fyne only and reaches devices and storage through app use cases"},
	}
	// app must not even import net/http's server side: the verify server
	// belongs in offline. Direct imports are checked separately below.
	appDirectBanned := []string{"net/http", "net/http/httptest"}

	cmd := exec.Command("go", "list", "-json", "../...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 3 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	// Ask for each package's transitive deps.
	depsOf := func(path string) []string {
		out, err := exec.Command("go", "list", "-f", `{{join .Deps "\n"}}`, path).Output()
		if err != nil {
			t.Fatalf("go list deps %s: %v", path, err)
		}
		return strings.Fields(string(out))
	}
	checked := 0
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for _, r := range rules {
			if rel != r.folder && !strings.HasPrefix(rel, r.folder+"/") {
				continue
			}
			checked++
			for _, d := range depsOf(p.ImportPath) {
				for _, b := range r.banned {
					if d == b || strings.HasPrefix(d, b) {
						t.Errorf("%s depends on %s: %s", p.ImportPath, d, r.why)
					}
				}
			}
			if r.folder == "app" {
				for _, d := range p.Imports {
					for _, b := range appDirectBanned {
						if d == b {
							t.Errorf("%s imports %s: %s", p.ImportPath, d, r.why)
						}
					}
					if strings.Contains(strings.SplitN(d, "/", 2)[0], ".") {
						t.Errorf("%s imports non-standard %s: %s", p.ImportPath, d, r.why)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package matched any rule")
	}
	checkNoSimulators(t, pkgs, depsOf)
	checkNoDemoData(t, pkgs)
	checkNoDemoSecrets(t, pkgs)
}

// demoSecrets are the text the simulators derive their public demo keys
// and token from (syncpub's manifest, ride-QR and card-hash keys, the
// central simulator's station token). Anyone can rebuild a demo key from
// them, so a production file that holds one could sign or accept what
// any demo signs.
var demoSecrets = []string{"stationdesk demo key", "stationdesk demo card-hash key", "demo-station-token"}

// checkNoDemoSecrets fails when a string literal of a production file
// (test files excluded) holds a demo secret, and when a secret is no
// longer found in any simulator (the list is stale).
func checkNoDemoSecrets(t *testing.T, pkgs []pkg) {
	t.Helper()
	inSim := map[string]bool{}
	for _, p := range pkgs {
		sim := isSimulator(p.ImportPath)
		fset := token.NewFileSet()
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				for _, sec := range demoSecrets {
					if !strings.Contains(lit.Value, sec) {
						continue
					}
					if sim {
						inSim[sec] = true
					} else {
						t.Errorf("%s: %s holds the demo secret %q: demo keys live in the simulators only", fset.Position(lit.Pos()), p.ImportPath, sec)
					}
				}
				return true
			})
		}
	}
	for _, sec := range demoSecrets {
		if !inSim[sec] {
			t.Errorf("demo secret %q is in no simulator: the list is stale", sec)
		}
	}
}

// demoWords are production names that speak of demo mode without holding
// its data: the folder kind, and the entries a production desk refuses.
var demoWords = map[string]bool{
	"stationdesk/offline/datadir.Demo":          true,
	"stationdesk/offline/datadir.demoOnlyNames": true,
}

// checkNoDemoData fails when a production file holds demo data itself: a
// package-level variable or constant named demo-something, or a file
// embedded with "demo" in its name (demo accounts, fares, keys). Demo data
// live in the simulator packages (app/demo, offline/sim, devices/sim) and
// reach the desk only through the files simFiles allows.
func checkNoDemoData(t *testing.T, pkgs []pkg) {
	t.Helper()
	for _, p := range pkgs {
		if isSimulator(p.ImportPath) || simTools[p.ImportPath] != "" {
			continue
		}
		fset := token.NewFileSet()
		for _, name := range p.GoFiles {
			if slices.Contains(simFiles[p.ImportPath], name) {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || (g.Tok != token.VAR && g.Tok != token.CONST) {
					continue
				}
				for _, sp := range g.Specs {
					for _, n := range sp.(*ast.ValueSpec).Names {
						if strings.Contains(strings.ToLower(n.Name), "demo") && !demoWords[p.ImportPath+"."+n.Name] {
							t.Errorf("%s/%s: %s %s is demo data in a production package; it belongs in app/demo (or a simulator)", p.ImportPath, name, g.Tok, n.Name)
						}
					}
				}
			}
			for _, cg := range f.Comments {
				for _, c := range cg.List {
					if strings.HasPrefix(c.Text, "//go:embed") && strings.Contains(strings.ToLower(c.Text), "demo") {
						t.Errorf("%s/%s embeds demo data (%s); it belongs in app/demo", p.ImportPath, name, c.Text)
					}
				}
			}
		}
	}
}

// Simulators and demo data: what plays central, a gate, a load or a
// reader, and the public demo keys and riders. Production code never
// depends on them, so a production desk or gate service cannot run a
// simulator or trust a demo key by accident.
var simulators = []string{"stationdesk/offline/sim/", "stationdesk/app/demo", "stationdesk/devices/sim"}

// simTools are the non-simulator packages allowed to depend on
// simulators, and why.
var simTools = map[string]string{
	// Field diagnostics: `stationdesk devices sim|bench` drive the reader
	// drivers against the simulated readers.
	"stationdesk/devices/diag":             "device diagnostics and benches run the readers against their simulators",
	"stationdesk/devices/diag/cmd/devdiag": "the stand-alone device diagnostics command",
}

// simFiles are the only files of the packages below that may import a
// simulator directly; every other file of the package must not.
var simFiles = map[string][]string{
	// The composition root: demo mode's wiring is confined to demo.go;
	// the simulator and load tools ship as sub-commands of the same binary,
	// one file each.
	"stationdesk": {"demo.go", "cmd_centralsim.go", "cmd_gatesim.go", "cmd_bench.go"},
	// The demo-mode panels (simulated readers, simulated gate), shown only
	// when the composition root hands the ui a simulator.
	"stationdesk/ui": {"simpanel.go", "gates_demo.go"},
}

func isSimulator(path string) bool {
	for _, s := range simulators {
		if path == strings.TrimSuffix(s, "/") || strings.HasPrefix(path, s) {
			return true
		}
	}
	return false
}

// checkNoSimulators fails when a production package depends on a
// simulator (transitively, test files excluded), or when a package with
// demo wiring imports one outside its allowed files.
func checkNoSimulators(t *testing.T, pkgs []pkg, depsOf func(string) []string) {
	t.Helper()
	seen := 0
	for _, p := range pkgs {
		if isSimulator(p.ImportPath) || simTools[p.ImportPath] != "" {
			continue
		}
		allowed, fileLevel := simFiles[p.ImportPath]
		if !fileLevel {
			for _, d := range depsOf(p.ImportPath) {
				if isSimulator(d) {
					t.Errorf("%s depends on %s: production code must not reach a simulator or demo keys", p.ImportPath, d)
				}
			}
			continue
		}
		fset := token.NewFileSet()
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, im := range f.Imports {
				path, _ := strconv.Unquote(im.Path.Value)
				if !isSimulator(path) {
					continue
				}
				seen++
				if !slices.Contains(allowed, name) {
					t.Errorf("%s/%s imports %s: only %v may reach simulators or demo keys", p.ImportPath, name, path, allowed)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no file imports a simulator: the allowed-file lists are stale")
	}
}
