package app

import (
	"strings"
	"testing"
)

// Figures for `make bench`; no assertions on time.

func BenchmarkParseDocCNID(b *testing.B) {
	for b.Loop() {
		if _, err := ParseDocAt(DocCNID, "11010519491231002X", refNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDetectDocMRZ(b *testing.B) {
	for b.Loop() {
		if _, err := DetectDocAt("L898902C36UTO7408122F1204159ZE184226B<<<<<10", refNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDocGarbage10kB(b *testing.B) {
	g := strings.Repeat("x", 10240)
	for b.Loop() {
		_, _ = ParseDocAt(DocCNID, g, refNow)
	}
}

func BenchmarkMaskName(b *testing.B) {
	for b.Loop() {
		_ = MaskName("欧阳娜娜")
	}
}

func BenchmarkTokenizerDoc(b *testing.B) {
	tok, _ := NewTokenizer(make([]byte, 32))
	d, _ := ParseDocAt(DocCNID, "11010519491231002X", refNow)
	for b.Loop() {
		_ = tok.Doc(d)
	}
}
