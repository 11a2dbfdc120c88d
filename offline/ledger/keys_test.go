package ledger

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"stationdesk/app"
)

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v", st.Mode(), err)
	}
	k2, err := LoadOrCreateKeys(dir)
	if err != nil || *k1 != *k2 {
		t.Fatal("second load gave other keys")
	}
	if k1.Enc == k1.Index || k1.Index == k1.Audit {
		t.Fatal("keys not independent")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}
	if s := k1.String(); bytes.Contains([]byte(s), []byte("enc")) || len(s) > 40 {
		t.Errorf("String = %q", s)
	}
	if _, err := app.NewTokenizer(k1.Index[:]); err != nil {
		t.Errorf("index key unusable for app.Tokenizer: %v", err)
	}

	for _, tc := range []struct {
		name   string
		setup  func(dir string)
		reason string
	}{
		{"ErrMissing", func(string) {}, "keys_missing"},
		{"ErrLooseMode", func(d string) {
			LoadOrCreateKeys(d)
			os.Chmod(filepath.Join(d, KeyFileName), 0o644)
		}, "key_file_mode"},
		{"ErrDamaged", func(d string) {
			os.WriteFile(filepath.Join(d, KeyFileName), []byte(`{"version":1,"key_id":"zz"}`), 0o600)
		}, "key_file_bad"},
		{"ErrShortKey", func(d string) {
			os.WriteFile(filepath.Join(d, KeyFileName), []byte(`{"version":1,"key_id":"01020304","enc":"AAAA","index":"AAAA","audit":"AAAA"}`), 0o600)
		}, "key_file_bad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			tc.setup(d)
			if _, err := LoadKeys(d); app.ErrorReason(err) != tc.reason {
				t.Fatalf("err = %v, want %s", err, tc.reason)
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	k, _ := NewKeys()
	other, _ := NewKeys()
	sealed, err := k.Seal([]byte("secret"), "outbox", "personal", "row1")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := k.Seal([]byte("secret"), "outbox", "personal", "row1")
	if bytes.Equal(sealed, again) {
		t.Fatal("nonce reused")
	}
	if pt, err := k.Open(sealed, "outbox", "personal", "row1"); err != nil || string(pt) != "secret" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	flipped := append([]byte(nil), sealed...)
	flipped[len(flipped)-1] ^= 1
	for _, tc := range []struct {
		name       string
		k          *Keys
		sealed     []byte
		t, c, rowK string
	}{
		{"ErrOtherRow", k, sealed, "outbox", "personal", "row2"},
		{"ErrOtherColumn", k, sealed, "outbox", "body", "row1"},
		{"ErrOtherTable", k, sealed, "sales", "personal", "row1"},
		{"ErrOtherKey", other, sealed, "outbox", "personal", "row1"},
		{"ErrFlippedBit", k, flipped, "outbox", "personal", "row1"},
		{"ErrTruncated", k, sealed[:20], "outbox", "personal", "row1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.k.Open(tc.sealed, tc.t, tc.c, tc.rowK); app.ErrorReason(err) != "sealed_value" {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func FuzzOpenSealed(f *testing.F) {
	k := &Keys{ID: "01020304"}
	good, _ := k.Seal([]byte("x"), "t", "c", "r")
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := k.Open(b, "t", "c", "r")
		if err == nil && !bytes.Equal(b, good) && string(pt) != "x" {
			t.Fatalf("forged value opened: %x", b)
		}
	})
}

func FuzzParseKeyFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"key_id":"01020304","enc":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","index":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","audit":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseKeyFile(b)
		if err == nil && len(k.ID) != 8 {
			t.Fatalf("accepted key id %q", k.ID)
		}
	})
}
