package cache

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVarintRoundTrip: SQLite's varints of the edges of each length
// decode to what was encoded, in the length SQLite uses.
func TestVarintRoundTrip(t *testing.T) {
	for _, c := range []struct {
		v uint64
		n int
	}{{0, 1}, {0x7f, 1}, {0x80, 2}, {0x3fff, 2}, {0x4000, 3}, {1<<56 - 1, 8}, {1 << 56, 9}, {1<<64 - 1, 9}, {1 << 63, 9}} {
		b := appendVarint(nil, c.v)
		got, n := getVarint(b)
		if len(b) != c.n || n != c.n || got != c.v || varintLen(c.v) != c.n {
			t.Errorf("%#x: encoded in %d bytes (want %d), decoded %#x in %d, varintLen %d", c.v, len(b), c.n, got, n, varintLen(c.v))
		}
		if _, n := getVarint(b[:len(b)-1]); n != 0 {
			t.Errorf("%#x: a varint cut short decoded", c.v)
		}
	}
}

// TestAttachRefusesFilesItCannotWrite: a file whose pages carry reserved
// bytes, that auto-vacuums, of an older schema format, whose header page
// count SQLite would not trust, or that is not SQLite at all, is refused
// with an error that says why, before anything is written.
func TestAttachRefusesFilesItCannotWrite(t *testing.T) {
	good := func() []byte {
		h := make([]byte, 4096)
		copy(h, "SQLite format 3\x00")
		binary.BigEndian.PutUint16(h[16:], 4096)
		binary.BigEndian.PutUint32(h[24:], 7)
		binary.BigEndian.PutUint32(h[28:], 1)
		binary.BigEndian.PutUint32(h[44:], 4)
		binary.BigEndian.PutUint32(h[92:], 7)
		return h
	}
	for _, c := range []struct {
		name, want string
		mod        func(h []byte)
	}{
		{"good", "", func([]byte) {}},
		{"reserved", "reserved bytes", func(h []byte) { h[20] = 8 }},
		{"format", "schema format", func(h []byte) { binary.BigEndian.PutUint32(h[44:], 1) }},
		{"autovacuum", "auto-vacuum", func(h []byte) { binary.BigEndian.PutUint32(h[52:], 3) }},
		{"count", "page count", func(h []byte) { binary.BigEndian.PutUint32(h[92:], 6) }},
		{"short", "shorter", func(h []byte) { binary.BigEndian.PutUint32(h[28:], 2) }},
		{"magic", "not an SQLite file", func(h []byte) { h[0] = 'X' }},
	} {
		h := good()
		c.mod(h)
		path := filepath.Join(t.TempDir(), c.name+".db")
		if err := os.WriteFile(path, h, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = readDBHeader(f)
		f.Close()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}
