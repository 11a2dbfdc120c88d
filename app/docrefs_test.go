package app_test

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Comment references a newcomer can follow: a comment that points to a
// document points to one in this repository, by its path from the module
// root, and a section it names is a heading (or a bold paragraph lead) of
// that document. Design notes kept elsewhere, issue numbers of a tracker
// and bare file names are lost on whoever clones the project, so the why
// goes into the comment or into docs/.
var (
	// refOutside are the ways comments used to point outside the tree.
	refOutside = []struct {
		re  *regexp.Regexp
		why string
	}{
		{regexp.MustCompile(`DESIGN(\.md)?\s*§|\bDESIGN\.md\b`), "a design note outside the repository; point to docs/"},
		{regexp.MustCompile(`(^|[\s(\x60"'])shared/[\w.-]+`), "a shared/ note outside the repository; point to docs/"},
		{regexp.MustCompile(`(?i)\bissues?\s+#?\d+`), "an issue of the tracker is not in the repository; say the why in the comment"},
	}
	// mdFile is any Markdown file name a comment mentions.
	mdFile = regexp.MustCompile(`[\w./-]*[\w-]\.md\b`)
	// docSection is a reference naming a section: the document's path, then
	// the section's title in double quotes.
	docSection = regexp.MustCompile(`(docs/[\w.-]+\.md),?\s+"([^"]+)"`)
	// docLoose is a section named without quotes, after a comma.
	docLoose = regexp.MustCompile(`(docs/[\w.-]+\.md),\s+([A-Za-z][^,;:)"]*)`)
	// heading is a Markdown heading or a paragraph's bold lead.
	heading = regexp.MustCompile(`^(?:#{1,6}\s+(.+?)\s*#*\s*$|\*\*([^*]+)\*\*)`)
)

// TestDocReferences walks every .go file of the module and checks the
// references in its comments (see refOutside, mdFile, docSection).
func TestDocReferences(t *testing.T) {
	root := ".."
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	files, refs, titled := 0, 0, 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		files++
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, cg := range f.Comments {
			at := fset.Position(cg.Pos()).Line
			text := commentText(cg.List)
			problems, n := checkComment(text, func(doc string) ([]string, bool) { return sectionsOf(root, doc) })
			refs += n
			titled += len(docSection.FindAllString(text, -1))
			for _, p := range problems {
				t.Errorf("%s:%d: %s", rel, at, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 || refs < 20 || titled < 10 {
		t.Fatalf("read %d files, %d document references, %d with a section: the walk missed the tree", files, refs, titled)
	}
}

// checkComment returns what is wrong with the references in one comment's
// text, and how many documents it names. sectionsOf gives a document's
// section titles, false when it does not exist.
func checkComment(text string, sectionsOf func(doc string) ([]string, bool)) (problems []string, refs int) {
	for _, o := range refOutside {
		if m := o.re.FindString(text); m != "" {
			problems = append(problems, fmt.Sprintf("%q: %s", strings.TrimSpace(m), o.why))
		}
	}
	for _, m := range mdFile.FindAllString(text, -1) {
		refs++
		if !strings.HasPrefix(m, "docs/") && m != "README.md" {
			problems = append(problems, fmt.Sprintf("%q is not a path from the module root; name docs/%s (or put the document there)", m, filepath.Base(m)))
			continue
		}
		if _, ok := sectionsOf(m); !ok {
			problems = append(problems, fmt.Sprintf("%s does not exist in the repository", m))
		}
	}
	for _, m := range docSection.FindAllStringSubmatch(text, -1) {
		s, ok := sectionsOf(m[1])
		if ok && !hasSection(s, m[2]) {
			problems = append(problems, fmt.Sprintf("%s has no section %q (its sections: %s)", m[1], m[2], strings.Join(s, "; ")))
		}
	}
	for _, m := range docLoose.FindAllStringSubmatch(text, -1) {
		if !strings.HasPrefix(m[2], "docs/") {
			problems = append(problems, fmt.Sprintf("%s, %s: name the section by its title in double quotes after the path", m[1], strings.TrimSpace(m[2])))
		}
	}
	return problems, refs
}

// sectionCache holds the section titles of the documents read so far.
var sectionCache = map[string][]string{}

// sectionsOf returns the normalised section titles of doc (a path from
// root): its Markdown headings and bold paragraph leads outside code
// blocks. README.md has no sections to check; false when doc is missing.
func sectionsOf(root, doc string) ([]string, bool) {
	if s, ok := sectionCache[doc]; ok {
		return s, true
	}
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(doc)))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var s []string
	sc := bufio.NewScanner(f)
	fence := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			fence = !fence
			continue
		}
		if m := heading.FindStringSubmatch(line); m != nil && !fence {
			s = append(s, normTitle(m[1]+m[2]))
		}
	}
	sectionCache[doc] = s
	return s, true
}

// commentText is a comment group's text on one line, markers removed, so a
// reference broken over two lines reads whole.
func commentText(list []*ast.Comment) string {
	var b strings.Builder
	for _, c := range list {
		s := c.Text
		switch {
		case strings.HasPrefix(s, "//"):
			s = s[2:]
		case strings.HasPrefix(s, "/*"):
			s = strings.TrimSuffix(s[2:], "*/")
		}
		b.WriteString(s)
		b.WriteByte(' ')
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// normTitle makes a title comparable: lower case, no Markdown code marks,
// no section number ("3. The answer" → "the answer").
func normTitle(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, "`", ""))
	s = strings.TrimRight(strings.TrimSpace(s), ":.")
	if i := strings.Index(s, ". "); i > 0 && strings.Trim(s[:i], "0123456789") == "" {
		s = s[i+2:]
	}
	return s
}

// hasSection reports whether title names one of sections: the whole title,
// or its start before a parenthesis ("ID-card reader" for "ID-card reader
// (GA 467 SAM)").
func hasSection(sections []string, title string) bool {
	want := normTitle(title)
	for _, s := range sections {
		if s == want || strings.HasPrefix(s, want+" (") {
			return true
		}
	}
	return false
}

// TestDocReferenceRules shows each rule catching what it is for, and
// passing the references the tree uses, against a made-up document.
func TestDocReferenceRules(t *testing.T) {
	docs := map[string][]string{
		"docs/devices.md": {"devices: the readers", "serial ports", "id-card reader (ga 467 sam)", "read sequence"},
		"README.md":       nil,
	}
	lookup := func(doc string) ([]string, bool) { s, ok := docs[doc]; return s, ok }
	for _, c := range []struct {
		name, text string
		bad        bool
	}{
		{"OK", `bounds the read (docs/devices.md "Read sequence").`, false},
		{"OKHeadingBeforeParenthesis", `Commands (docs/devices.md "ID-card reader").`, false},
		{"OKWholeDocument", `the rules of docs/devices.md; see README.md.`, false},
		{"OKTwoDocuments", `(docs/devices.md, docs/devices.md "Serial ports")`, false},
		{"DesignNote", `as DESIGN §4.2 says`, true},
		{"SharedNote", "see " + "sha" + "red/fyne.md for the bridge", true}, // split so the line itself names no outside page
		{"IssueNumber", `issue 13: it used to go through the card`, true},
		{"BareFileName", `framing of devices.md`, true},
		{"MissingDocument", `as docs/security.md says`, true},
		{"MissingSection", `(docs/devices.md "Text block")`, true},
		{"UnquotedSection", `(docs/devices.md, read sequence)`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			problems, _ := checkComment(c.text, lookup)
			if bad := len(problems) > 0; bad != c.bad {
				t.Errorf("%q: problems %q, want bad=%v", c.text, problems, c.bad)
			}
		})
	}
}
