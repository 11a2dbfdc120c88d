package devices_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the device layer's architecture (docs/architecture.md): devices never import the GUI, the storage or network
// adapters, and only devices/serial touches tarm/serial.
func TestImports(t *testing.T) {
	banned := []struct{ prefix, why string }{
		{"fyne.io/", "devices never import Fyne: the UI reaches devices only through app interfaces"},
		{"stationdesk/ui", "adapters talk to each other only through app"},
		{"stationdesk/offline", "adapters talk to each other only through app"},
		{"modernc.org/sqlite", "devices keep no database"},
		{"github.com/go-resty/", "devices make no network calls"},
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, b := range banned {
				if strings.HasPrefix(p, b.prefix) {
					t.Errorf("%s imports %s: %s", path, p, b.why)
				}
			}
			if p == "github.com/tarm/serial" && filepath.Dir(path) != "serial" {
				t.Errorf("%s imports tarm/serial: only devices/serial may", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
