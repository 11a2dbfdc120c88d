package app_test

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestArchitectureTree: the folder tree of docs/architecture.md has one
// line for every package `go list` finds, none for a package that is
// gone, and every package has a doc comment, so the page a newcomer reads
// first is the tree as it is.
func TestArchitectureTree(t *testing.T) {
	const mod = "stationdesk"
	out, err := exec.Command("go", "list", "-tags", "x11", "-f", "{{.ImportPath}}\t{{.Doc}}", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, doc, _ := strings.Cut(line, "\t")
		rel := strings.TrimPrefix(strings.TrimPrefix(path, mod), "/")
		if rel == "" {
			rel = "."
		}
		pkgs[rel] = true
		if strings.TrimSpace(doc) == "" {
			t.Errorf("%s has no package doc comment", path)
		}
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}

	lines, err := treeLines("../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range lines {
		if listed[l.pkg] {
			t.Errorf("docs/architecture.md lists %s twice", l.pkg)
		}
		listed[l.pkg] = true
		if !pkgs[l.pkg] {
			t.Errorf("docs/architecture.md lists %s, which is not a package of the module", l.pkg)
		}
		if l.job == "" {
			t.Errorf("docs/architecture.md lists %s without saying its job", l.pkg)
		}
	}
	for p := range pkgs {
		if !listed[p] {
			t.Errorf("docs/architecture.md's folder tree has no line for %s: add one saying its job", p)
		}
	}
}

// treeLine is one package of the folder tree: its path from the module
// root ("." for package main) and the start of its description.
type treeLine struct{ pkg, job string }

// treeLines reads the code block under the "The folder tree" heading: a
// line starting in the first column names a package ("app/", "main (.)",
// "offline/cache"), an indented line continues the description above.
func treeLines(path string) ([]treeLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []treeLine
	section, block := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s := sc.Text()
		switch {
		case strings.HasPrefix(s, "## "):
			section = s == "## The folder tree"
			continue
		case !section:
			continue
		case strings.HasPrefix(s, "```"):
			if block {
				return lines, nil
			}
			block = true
			continue
		case !block || s == "" || s[0] == ' ':
			continue
		}
		name, job, _ := strings.Cut(s, " ")
		if name == "main" && strings.HasPrefix(strings.TrimSpace(job), "(.)") {
			name, job = ".", strings.TrimPrefix(strings.TrimSpace(job), "(.)")
		}
		lines = append(lines, treeLine{pkg: strings.TrimSuffix(name, "/"), job: strings.TrimSpace(job)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return lines, nil
}
