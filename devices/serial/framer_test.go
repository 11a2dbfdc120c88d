package serial

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// A toy format: 0x02, a length byte (1..32), the body, 0x03.
var (
	errToyTruncated = errors.New("toy: truncated")
	errToyGarbage   = errors.New("toy: garbage")
	errToyBad       = errors.New("toy: bad frame")
	toy             = Format{Max: 35, Truncated: errToyTruncated, Garbage: errToyGarbage,
		Start: func(b []byte) (int, int) { return bytes.IndexByte(b, 0x02), 0 },
		Decode: func(b []byte) ([]byte, int, error) {
			if len(b) < 2 {
				return nil, 0, errToyTruncated
			}
			l := int(b[1])
			if l == 0 || l > 32 {
				return nil, 0, errToyBad
			}
			if len(b) < l+3 {
				return nil, 0, errToyTruncated
			}
			if b[l+2] != 0x03 {
				return nil, 0, errToyBad
			}
			return b[2 : 2+l], l + 3, nil
		}}
)

func toyFrame(body string) []byte {
	return append(append([]byte{0x02, byte(len(body))}, body...), 0x03)
}

// TestFramer: split frames, two in one read, garbage and a bad frame
// between good ones, each counted; the buffer and its capacity stay
// bounded under noise.
func TestFramer(t *testing.T) {
	t.Run("SplitAtEveryPosition", func(t *testing.T) {
		in := toyFrame("hello")
		for cut := 0; cut <= len(in); cut++ {
			var f Framer
			a, _ := f.Feed(in[:cut], toy)
			b, _ := f.Feed(in[cut:], toy)
			got := append(a, b...)
			if len(got) != 1 || string(got[0]) != "hello" || f.Buffered() != 0 {
				t.Fatalf("cut %d: %q, %d buffered", cut, got, f.Buffered())
			}
		}
	})
	t.Run("GarbageAndBadFrameBetween", func(t *testing.T) {
		var f Framer
		in := append(append(append(toyFrame("one"), "xyz"...), 0x02, 0x40), toyFrame("two")...)
		got, errs := f.Feed(in, toy)
		if len(got) != 2 || string(got[0]) != "one" || string(got[1]) != "two" {
			t.Fatalf("frames %q", got)
		}
		var bad, garbage bool
		for _, e := range errs {
			bad = bad || errors.Is(e, errToyBad)
			garbage = garbage || errors.Is(e, errToyGarbage)
		}
		if !bad || !garbage {
			t.Fatalf("errors %v: want a bad frame and garbage", errs)
		}
	})
	t.Run("BoundedUnderNoise", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		var f Framer
		noise := make([]byte, 1<<16)
		for i := range noise {
			noise[i] = byte(r.UintN(256))
		}
		for off := 0; off < len(noise); off += 512 {
			f.Feed([]byte{0x02, 32}, toy)
			f.Feed(noise[off:off+512], toy)
			if f.Buffered() > toy.Max || cap(f.buf) > 2*toy.Max {
				t.Fatalf("buffer %d (cap %d) above Max %d", f.Buffered(), cap(f.buf), toy.Max)
			}
		}
	})
}
