package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	t.Run("CreatesWithPermission", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "key.json")
		if err := WriteFile(p, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		st, _ := os.Stat(p)
		if string(b) != "secret" || st.Mode().Perm() != 0o600 {
			t.Fatalf("content %q mode %v", b, st.Mode().Perm())
		}
	})
	t.Run("ReplacesAndLeavesNoTemp", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "cursor")
		for _, v := range []string{"one", "two"} {
			if err := WriteFile(p, []byte(v), 0o640); err != nil {
				t.Fatal(err)
			}
		}
		b, _ := os.ReadFile(p)
		ents, _ := os.ReadDir(dir)
		if string(b) != "two" || len(ents) != 1 {
			t.Fatalf("content %q, %d entries in the folder", b, len(ents))
		}
	})
	t.Run("FailureKeepsOldFile", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "settings.json")
		if err := WriteFile(p, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		// A directory where the file should be renamed to makes the rename
		// fail after the temp file was written.
		target := filepath.Join(dir, "sub")
		if err := os.Mkdir(target, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(target, "x"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(target, []byte("new"), 0o600); err == nil {
			t.Fatal("rename over a non-empty folder succeeded")
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 2 {
			t.Fatalf("temp file left behind: %v", ents)
		}
		if b, _ := os.ReadFile(p); string(b) != "old" {
			t.Fatalf("old file changed to %q", b)
		}
	})
	t.Run("MissingFolder", func(t *testing.T) {
		if err := WriteFile(filepath.Join(t.TempDir(), "no", "f"), []byte("x"), 0o600); err == nil {
			t.Fatal("write into a missing folder succeeded")
		}
	})
}
