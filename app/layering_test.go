package app_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestLayering enforces DESIGN §3: dependencies point inward at app.
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
	type pkg struct {
		ImportPath string
		Imports    []string
		Deps       []string
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
}
