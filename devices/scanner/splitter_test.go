package scanner

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSplitter(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		idle    bool
		want    []string
		tooLong int
	}{
		{"CR", "ABC\r", false, []string{"ABC"}, 0},
		{"LF", "ABC\n", false, []string{"ABC"}, 0},
		{"CRLF", "ABC\r\n", false, []string{"ABC"}, 0},
		{"CRLFThenCode", "ABC\r\nDEF\r\n", false, []string{"ABC", "DEF"}, 0},
		{"MixedTerminators", "A\rB\nC\r\nD\n\r", false, []string{"A", "B", "C", "D"}, 0},
		{"EmptyLinesSkipped", "\r\n\r\n\nX\r\r", false, []string{"X"}, 0},
		{"NoTerminatorNeedsIdle", "HELLO", false, nil, 0},
		{"NoTerminatorEndsOnIdle", "HELLO", true, []string{"HELLO"}, 0},
		{"URLWithSpaces", "https://x.example/a?b=1 c\r", false, []string{"https://x.example/a?b=1 c"}, 0},
		{"UTF8", "健康码:绿\r\n", false, []string{"健康码:绿"}, 0},
		{"TooLongThenNext", strings.Repeat("Q", 10240) + "\r\nNEXT\r\n", false, []string{"NEXT"}, 1},
		{"TooLongOnIdle", strings.Repeat("Q", 10240), true, nil, 1},
		{"ExactlyMax", strings.Repeat("M", 64) + "\r", false, []string{strings.Repeat("M", 64)}, 0},
		{"MaxPlusOne", strings.Repeat("M", 65) + "\r", false, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := 64
			if strings.HasPrefix(tt.name, "TooLong") {
				max = DefaultMaxLen
			}
			s := NewSplitter(max)
			codes, errs := s.Feed([]byte(tt.in))
			if tt.idle {
				if c, err, ok := s.Idle(); ok {
					if err != nil {
						errs = append(errs, err)
					} else {
						codes = append(codes, c)
					}
				}
			}
			if strings.Join(codes, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("codes %q, want %q", codes, tt.want)
			}
			if len(errs) != tt.tooLong {
				t.Fatalf("errors %v, want %d too-long", errs, tt.tooLong)
			}
			for _, e := range errs {
				if !errors.Is(e, ErrTooLong) {
					t.Fatalf("error %v", e)
				}
			}
			if len(s.buf) > max || cap(s.buf) > 2*max+64 {
				t.Fatalf("buffer grew to %d (cap %d)", len(s.buf), cap(s.buf))
			}
		})
	}
}

func TestSplitterEverySplitPosition(t *testing.T) {
	in := []byte("FIRST\r\nSECOND\rTHIRD\n")
	for i := 0; i <= len(in); i++ {
		s := NewSplitter(0)
		a, _ := s.Feed(in[:i])
		b, _ := s.Feed(in[i:])
		if got := strings.Join(append(a, b...), "|"); got != "FIRST|SECOND|THIRD" {
			t.Fatalf("split at %d: %q", i, got)
		}
	}
}

func FuzzSplitter(f *testing.F) {
	f.Add([]byte("ABC\r\nDEF\n"), uint8(3), uint16(16))
	f.Add(bytes.Repeat([]byte("Z"), 5000), uint8(200), uint16(4096))
	f.Fuzz(func(t *testing.T, in []byte, step uint8, max uint16) {
		m := int(max%8192) + 1
		k := int(step%64) + 1
		s, whole := NewSplitter(m), NewSplitter(m)
		var got []string
		for i := 0; i < len(in); i += k {
			c, _ := s.Feed(in[i:min(i+k, len(in))])
			got = append(got, c...)
			if len(s.buf) > m {
				t.Fatalf("buffer %d > max %d", len(s.buf), m)
			}
		}
		all, _ := whole.Feed(in)
		if strings.Join(got, "\x00") != strings.Join(all, "\x00") {
			t.Fatal("chunking changed the result")
		}
		for _, c := range got {
			if len(c) > m || len(c) == 0 || strings.ContainsAny(c, "\r\n") {
				t.Fatalf("bad code %q", c)
			}
		}
	})
}
