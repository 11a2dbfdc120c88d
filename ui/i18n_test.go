package ui

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"stationdesk/assets"
)

// uiStrings returns every interface string in ui/*.go: literal first
// arguments of T(...) and literal `title:` fields of screens.
func uiStrings(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	keys := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			var lit *ast.BasicLit
			switch x := n.(type) {
			case *ast.CallExpr:
				if id, ok := x.Fun.(*ast.Ident); ok && (id.Name == "T" || id.Name == "phrase") && len(x.Args) > 0 {
					lit, _ = x.Args[0].(*ast.BasicLit)
				}
			case *ast.KeyValueExpr:
				if id, ok := x.Key.(*ast.Ident); ok && (id.Name == "title") {
					lit, _ = x.Value.(*ast.BasicLit)
				}
			}
			if lit != nil && lit.Kind == token.STRING {
				s, err := strconv.Unquote(lit.Value)
				if err == nil {
					keys[s] = fset.Position(lit.Pos()).String()
				}
			}
			return true
		})
	}
	return keys
}

// TestEveryStringTranslated fails when an interface string lacks one of
// its two languages, or when the table holds a key no code uses any more.
// English is the key itself (Fyne shows the key when a language has no
// table), so a key must read as English: no Chinese in it except the
// language switch's own "中文". Chinese is the table's value: present, not
// a copy of the English, and with the same {{.Field}}s as the key so
// nothing filled in is lost in either language.
func TestEveryStringTranslated(t *testing.T) {
	t.Parallel()
	// Every screen may keep its own table, translations/<screen>.zh_Hans.json
	// (Fyne loads [prefix.]lang.json); together they must cover ui/.
	files, err := fs.Glob(assets.Translations, "translations/*zh_Hans.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Chinese tables: %v", err)
	}
	zh := map[string]string{}
	for _, f := range files {
		raw, err := assets.Translations.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var part map[string]string
		if err := json.Unmarshal(raw, &part); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for k, v := range part {
			if _, dup := zh[k]; dup {
				t.Errorf("%s: key %q is also in another table", f, k)
			}
			zh[k] = v
		}
	}
	used := uiStrings(t)
	if len(used) < 20 {
		t.Fatalf("found only %d interface strings: the scanner is broken", len(used))
	}
	var missing []string
	for k, pos := range used {
		if strings.TrimSpace(zh[k]) == "" {
			missing = append(missing, pos+": "+strconv.Quote(k))
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("no Chinese translation for %s", m)
	}
	for k, v := range zh {
		where := strconv.Quote(k)
		if pos, ok := used[k]; ok {
			where = pos + ": " + where
		}
		if hanRe.MatchString(strings.ReplaceAll(k, "中文", "")) {
			t.Errorf("no English for %s: the key (the English text) holds Chinese", where)
		}
		if v == k && k != "中文 / English (F12)" {
			t.Errorf("no Chinese for %s: the table repeats the English", where)
		}
		if kf, vf := fieldRe.FindAllString(k, -1), fieldRe.FindAllString(v, -1); !sameFields(kf, vf) {
			t.Errorf("%s: fields %v in English, %v in Chinese", where, kf, vf)
		}
	}
	for k := range zh {
		if _, ok := used[k]; !ok && !dynamicKeys[k] {
			t.Errorf("zh_Hans.json has unused key %q", k)
		}
	}
}

var (
	hanRe   = regexp.MustCompile(`[\p{Han}\x{3000}-\x{303F}\x{FF00}-\x{FFEF}]`)
	fieldRe = regexp.MustCompile(`\{\{\s*\.\w+\s*\}\}`)
)

// sameFields reports whether a and b hold the same template fields, in any
// order (Chinese often puts them elsewhere in the sentence).
func sameFields(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	for i := range a {
		a[i] = strings.ReplaceAll(a[i], " ", "")
	}
	for i := range b {
		b[i] = strings.ReplaceAll(b[i], " ", "")
	}
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// dynamicKeys are translation keys that reach T through a variable rather
// than a literal (the mode badge, status details set by adapters), so the
// test does not report them as unused.
var dynamicKeys = map[string]bool{
	"DEMO": true,
}
