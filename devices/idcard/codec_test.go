package idcard

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

type vector struct {
	name, dir string
	frame     []byte
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	f, err := os.Open("testdata/frames.hex")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fs := strings.Fields(line)
		b, err := hex.DecodeString(strings.Join(fs[2:], ""))
		if err != nil {
			t.Fatalf("%s: %v", fs[0], err)
		}
		out = append(out, vector{fs[0], fs[1], b})
	}
	return out
}

func TestPublicFrames(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			body, n, err := Decode(v.frame)
			if err != nil || n != len(v.frame) {
				t.Fatalf("Decode: n=%d err=%v", n, err)
			}
			var again []byte
			if v.dir == "cmd" {
				c, err := ParseCommand(body)
				if err != nil {
					t.Fatal(err)
				}
				again = EncodeCommand(c)
			} else {
				r, err := ParseResponse(body)
				if err != nil {
					t.Fatal(err)
				}
				if again, err = EncodeResponse(r); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(again, v.frame) {
				t.Fatalf("re-encoded % X, want % X", again, v.frame)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := EncodeCommand(Command{Cmd: CmdCard, Para: ParaFind})
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 0xFF
	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"OK", good, nil},
		{"ErrPreamble", append([]byte{0xAA, 0xAA, 0x00}, good[3:]...), ErrPreamble},
		{"ErrPreambleFirstByte", append([]byte{0x00}, good...), ErrPreamble},
		{"ErrOversize", []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0xFF, 0xFF, 0x00}, ErrOversize},
		{"ErrOversizeJustAbove", []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, byte((MaxLen + 1) >> 8), byte((MaxLen + 1) & 0xFF)}, ErrOversize},
		{"ErrUndersize", []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x02, 0x20, 0x22}, ErrUndersize},
		{"ErrChecksum", badSum, ErrChecksum},
		{"ErrTruncatedHeader", good[:6], ErrTruncated},
		{"ErrTruncatedBody", good[:len(good)-1], ErrTruncated},
		{"ErrTruncatedEmpty", nil, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode(tt.frame)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Decode: %v, want %v", err, tt.want)
			}
		})
	}
}

// stream is garbage, a long read response, noise resembling a preamble,
// a frame with a bad checksum, and two short frames back to back.
func testStream(t testing.TB) (stream []byte, want [][]byte) {
	t.Helper()
	text := bytes.Repeat([]byte{0x20, 0x00}, 128)
	photo := make([]byte, 1024)
	for i := range photo {
		photo[i] = byte(i * 7) // includes 0xAA runs
	}
	photo[100], photo[101], photo[102], photo[103], photo[104] = 0xAA, 0xAA, 0xAA, 0x96, 0x69
	read := Response{SW3: SWOK, Data: append(append([]byte{0x01, 0x00, 0x04, 0x00}, text...), photo...)}
	readF, _ := EncodeResponse(read)
	bad, _ := EncodeResponse(Response{SW3: SWOK})
	bad[len(bad)-1] ^= 0x5A
	f1, _ := EncodeResponse(Response{SW3: SWFound, Data: []byte{0, 0, 0, 0}})
	f2, _ := EncodeResponse(Response{SW3: SWNotFound})
	stream = append(stream, 0x00, 0xFF, 0xAA, 0x13)
	stream = append(stream, readF...)
	stream = append(stream, 0xAA, 0xAA, 0x96)
	stream = append(stream, bad...)
	stream = append(stream, f1...)
	stream = append(stream, f2...)
	for _, fr := range [][]byte{readF, f1, f2} {
		b, _, err := Decode(fr)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b)
	}
	return stream, want
}

func feedAll(f *Framer, chunks ...[]byte) (got [][]byte, errs []error) {
	for _, c := range chunks {
		b, e := f.Feed(c)
		got = append(got, b...)
		errs = append(errs, e...)
	}
	return got, errs
}

func equalBodies(a, b [][]byte) bool {
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

func TestFramerSplitAtEveryPosition(t *testing.T) {
	stream, want := testStream(t)
	for i := 0; i <= len(stream); i++ {
		var f Framer
		got, errs := feedAll(&f, stream[:i], stream[i:])
		if !equalBodies(got, want) {
			t.Fatalf("split at %d: got %d frames, want %d", i, len(got), len(want))
		}
		if !hasErr(errs, ErrChecksum) || !hasErr(errs, ErrGarbage) {
			t.Fatalf("split at %d: errors %v lack checksum/garbage", i, errs)
		}
		if f.Buffered() != 0 {
			t.Fatalf("split at %d: %d bytes left", i, f.Buffered())
		}
	}
}

func TestFramerByteByByte(t *testing.T) {
	stream, want := testStream(t)
	var f Framer
	var chunks [][]byte
	for i := range stream {
		chunks = append(chunks, stream[i:i+1])
	}
	if got, _ := feedAll(&f, chunks...); !equalBodies(got, want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
}

func TestFramerTwoFramesInOneRead(t *testing.T) {
	a := EncodeCommand(Command{Cmd: CmdCard, Para: ParaFind})
	b := EncodeCommand(Command{Cmd: CmdCard, Para: ParaSelect})
	var f Framer
	got, errs := f.Feed(append(bytes.Clone(a), b...))
	if len(got) != 2 || len(errs) != 0 {
		t.Fatalf("got %d frames, errors %v", len(got), errs)
	}
}

func TestFramerOversizeLengthResyncs(t *testing.T) {
	good := EncodeCommand(Command{Cmd: CmdStatus, Para: ParaAny})
	in := append([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x7F, 0xFF, 1, 2, 3}, good...)
	var f Framer
	got, errs := f.Feed(in)
	if len(got) != 1 || !hasErr(errs, ErrOversize) {
		t.Fatalf("got %d frames, errors %v", len(got), errs)
	}
}

func TestFramerMemoryBoundedByMaxFrame(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var f Framer
	noise := make([]byte, 1<<20)
	for i := range noise {
		noise[i] = byte(r.UintN(256))
	}
	// A header claiming the largest length, then noise: the framer waits
	// for MaxFrame bytes at most, then rejects and resyncs.
	hdr := []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, byte(MaxLen >> 8), byte(MaxLen & 0xFF)}
	for off := 0; off < len(noise); off += 4096 {
		if off%65536 == 0 {
			f.Feed(hdr)
		}
		f.Feed(noise[off : off+4096])
		if f.Buffered() > MaxFrame {
			t.Fatalf("buffer %d above MaxFrame %d", f.Buffered(), MaxFrame)
		}
	}
}

func hasErr(errs []error, target error) bool {
	for _, e := range errs {
		if errors.Is(e, target) {
			return true
		}
	}
	return false
}

func FuzzDecode(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.frame)
	}
	f.Add([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0xFF, 0xFF})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		body, n, err := Decode(b)
		if err != nil {
			return
		}
		if n > MaxFrame || n > len(b) {
			t.Fatalf("n=%d", n)
		}
		c, err := ParseCommand(body)
		if err != nil {
			t.Fatal(err)
		}
		if again := EncodeCommand(c); !bytes.Equal(again, b[:n]) {
			t.Fatalf("round trip % X != % X", again, b[:n])
		}
	})
}

func FuzzFramer(f *testing.F) {
	stream, _ := testStream(f)
	f.Add(stream, uint16(7))
	for _, v := range loadVectors(f) {
		f.Add(append(bytes.Clone(v.frame), v.frame...), uint16(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, chunk uint16) {
		step := int(chunk%64) + 1
		var fr Framer
		var got [][]byte
		for i := 0; i < len(b); i += step {
			bodies, _ := fr.Feed(b[i:min(i+step, len(b))])
			got = append(got, bodies...)
			if fr.Buffered() > MaxFrame {
				t.Fatalf("buffered %d", fr.Buffered())
			}
		}
		// Chunking must not change the result.
		var whole Framer
		all, _ := whole.Feed(b)
		if !equalBodies(got, all) {
			t.Fatalf("chunked %d frames, whole %d", len(got), len(all))
		}
		for _, body := range got {
			if len(body)+hdrLen+1 > MaxFrame {
				t.Fatalf("body %d bytes", len(body))
			}
		}
	})
}
