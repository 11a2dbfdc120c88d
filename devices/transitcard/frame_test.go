package transitcard

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"stationdesk/app"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Public frames of docs/devices.md (transit-card reader).
var publicFrames = []struct{ name, hex string }{
	{"IDReadFull", "02 00 03 CA 01 00 CB 03"},
	{"IDReadNameNumber", "02 00 03 CA 01 02 C9 03"},
	{"YinanReadCardID", "02 00 03 32 29 FF E4 03"},
	{"YinanShort", "02 00 02 30 06 36 03"},
}

func TestPublicFrames(t *testing.T) {
	for _, f := range publicFrames {
		t.Run(f.name, func(t *testing.T) {
			b := unhex(f.hex)
			pl, n, err := DecodeFrame(b)
			if err != nil || n != len(b) {
				t.Fatalf("decode: %d %v", n, err)
			}
			again, err := EncodeFrame(pl)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-encoded % X (%v)", again, err)
			}
		})
	}
}

func TestDecodeFrameMalformed(t *testing.T) {
	good, _ := EncodeFrame([]byte{0x32, 0x25})
	bad := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"OK", good, nil},
		{"ErrSTX", bad(0, 0x05), ErrSTX},
		{"ErrOversize", []byte{STX, 0xFF, 0xFF, 0x00}, ErrOversize},
		{"ErrEmpty", []byte{STX, 0x00, 0x00, 0x00, ETX}, ErrEmpty},
		{"ErrChecksum", bad(len(good)-2, good[len(good)-2]^1), ErrChecksum},
		{"ErrETX", bad(len(good)-1, 0x04), ErrETX},
		{"ErrTruncated", good[:len(good)-1], ErrTruncated},
		{"ErrTruncatedEmpty", nil, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeFrame(tt.in)
			if (tt.want == nil && err != nil) || !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := EncodeFrame(make([]byte, MaxPayload+1)); !errors.Is(err, ErrOversize) {
		t.Fatalf("EncodeFrame oversize: %v", err)
	}
}

func testStream(t testing.TB) ([]byte, [][]byte) {
	a, _ := EncodeFrame(append([]byte{0x00, 0x00}, bytes.Repeat([]byte{0x02, 0x03}, 300)...))
	b, _ := EncodeFrame([]byte{0x30, 0x06})
	c, _ := EncodeFrame([]byte{0x00, 0x00, 0x9A, 1, 2, 3, 4})
	badSum := bytes.Clone(b)
	badSum[len(badSum)-2] ^= 0xFF
	var s []byte
	s = append(s, 0x7E, 0x02, 0x99) // noise that starts like a frame
	s = append(s, a...)
	s = append(s, badSum...)
	s = append(s, b...)
	s = append(s, c...)
	var want [][]byte
	for _, f := range [][]byte{a, b, c} {
		pl, _, err := DecodeFrame(f)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, pl)
	}
	return s, want
}

func same(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestSTXFramerSplitAtEveryPosition(t *testing.T) {
	s, want := testStream(t)
	for i := 0; i <= len(s); i++ {
		var f STXFramer
		p1, _ := f.Feed(s[:i])
		p2, _ := f.Feed(s[i:])
		if got := append(p1, p2...); !same(got, want) {
			t.Fatalf("split at %d: %d payloads, want %d", i, len(got), len(want))
		}
	}
}

func TestSTXFramerTwoFramesInOneRead(t *testing.T) {
	a, _ := EncodeFrame([]byte{0x31, 0x11})
	var f STXFramer
	got, errs := f.Feed(append(bytes.Clone(a), a...))
	if len(got) != 2 || len(errs) != 0 {
		t.Fatalf("%d payloads, errors %v", len(got), errs)
	}
}

func TestSTXFramerBounded(t *testing.T) {
	var f STXFramer
	hdr := []byte{STX, byte(MaxPayload >> 8), byte(MaxPayload & 0xFF)}
	for i := 0; i < 200; i++ {
		f.Feed(hdr)
		f.Feed(bytes.Repeat([]byte{0x55}, 997))
		if f.Buffered() > MaxFrame {
			t.Fatalf("buffered %d", f.Buffered())
		}
	}
}

func TestBalance(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		fen  int64
	}{
		{"Zero", []byte{0, 0, 0, 0}, 0},
		{"Positive", []byte{0, 0, 0x11, 0xD0}, 4560},
		{"GarbageTopBitIgnored", []byte{0x80, 0, 0x11, 0xD0}, 4560},
		{"Overdraft", []byte{0x7F, 0xFF, 0xFF, 0x38}, -200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DecodeBalance(tt.raw); got != tt.fen {
				t.Fatalf("got %d, want %d", got, tt.fen)
			}
			if got := DecodeBalance(EncodeBalance(tt.fen)); got != tt.fen {
				t.Fatalf("round trip %d", got)
			}
		})
	}
}

// scripted answers R-APDUs in order.
type scripted struct {
	answers [][]byte
	sent    [][]byte
}

func (s *scripted) Transmit(_ context.Context, c []byte) ([]byte, error) {
	s.sent = append(s.sent, bytes.Clone(c))
	if len(s.answers) == 0 {
		return nil, errors.New("no more answers")
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a, nil
}

func TestExchange(t *testing.T) {
	tests := []struct {
		name    string
		answers [][]byte
		want    []byte
		wantErr error
		sent    int
	}{
		{"OK", [][]byte{{1, 2, 0x90, 0x00}}, []byte{1, 2}, nil, 1},
		{"GetResponse61", [][]byte{{0x61, 0x02}, {7, 8, 0x90, 0x00}}, []byte{7, 8}, nil, 2},
		{"RetryLe6C", [][]byte{{0x6C, 0x20}, {9, 0x90, 0x00}}, []byte{9}, nil, 2},
		{"FileNotFound", [][]byte{{0x6A, 0x82}}, nil, SWError(0x6A82), 1},
		{"Truncated", [][]byte{{0x90}}, nil, ErrTruncated, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{answers: tt.answers}
			got, err := exchange(context.Background(), s, readBinarySFI(4))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
			} else if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("got % X %v", got, err)
			}
			if len(s.sent) != tt.sent {
				t.Fatalf("sent %d APDUs", len(s.sent))
			}
		})
	}
}

func FuzzDecodeFrame(f *testing.F) {
	for _, p := range publicFrames {
		f.Add(unhex(p.hex))
	}
	f.Add([]byte{STX, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		pl, n, err := DecodeFrame(b)
		if err != nil {
			return
		}
		if n > MaxFrame {
			t.Fatalf("n=%d", n)
		}
		again, err := EncodeFrame(pl)
		if err != nil || !bytes.Equal(again, b[:n]) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzSTXFramer(f *testing.F) {
	s, _ := testStream(f)
	f.Add(s, uint8(5))
	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		k := int(step%32) + 1
		var fr, whole STXFramer
		var got [][]byte
		for i := 0; i < len(b); i += k {
			p, _ := fr.Feed(b[i:min(i+k, len(b))])
			got = append(got, p...)
			if fr.Buffered() > MaxFrame {
				t.Fatalf("buffered %d", fr.Buffered())
			}
		}
		all, _ := whole.Feed(b)
		if !same(got, all) {
			t.Fatalf("chunked %d, whole %d", len(got), len(all))
		}
	})
}

func FuzzTokenFile(f *testing.F) {
	f.Add(make([]byte, 16))
	f.Add(unhex("9900000001 01 00C8 0150 202606011230"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := parseToken(b)
		if err != nil {
			return
		}
		enc, err := EncodeToken(tok)
		if err != nil {
			return // e.g. hex digits A-F in a serial that is not BCD
		}
		tok2, err := parseToken(enc)
		if err != nil || tok2 != tok {
			t.Fatalf("round trip %+v %+v %v", tok, tok2, err)
		}
	})
}

// TestBalanceTransportErrorFailsTheRead: a Beijing card whose GET BALANCE
// goes unanswered (the reader timed out, the card was lifted) is a failed
// read, tried again by the reader, not a card with no balance; a card that
// refuses GET BALANCE with a status word reads with balance -1.
func TestBalanceTransportErrorFailsTheRead(t *testing.T) {
	ef04 := make([]byte, 32)
	copy(ef04, []byte{0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78})
	ef04[10] = 0x02 // student
	copy(ef04[28:], []byte{0x20, 0x30, 0x12, 0x31})
	ok := []byte{0x90, 0x00}
	script := func(balance ...[]byte) *scripted {
		return &scripted{answers: append([][]byte{ok, append(bytes.Clone(ef04), ok...), ok}, balance...)}
	}
	if c, err := ReadCard(context.Background(), script(), FoundCard{Type: FoundTypeA}); err == nil {
		t.Fatalf("unanswered GET BALANCE read as %+v", c)
	}
	c, err := ReadCard(context.Background(), script([]byte{0x6A, 0x82}), FoundCard{Type: FoundTypeA})
	if err != nil || c.Balance != -1 || c.Number != "12345678" {
		t.Fatalf("refused GET BALANCE: %+v %v", c, err)
	}
	c, err = ReadCard(context.Background(), script(append(EncodeBalance(4560), ok...)), FoundCard{Type: FoundTypeA})
	if err != nil || c.Balance != 4560 || c.Kind != app.CardStudent {
		t.Fatalf("answered GET BALANCE: %+v %v", c, err)
	}
}
