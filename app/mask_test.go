package app

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestMaskName(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"Chinese2", "张三", "张*"},
		{"Chinese3", "王小明", "王**"},
		{"Chinese1", "李", "李"},
		{"CompoundSurname4", "欧阳娜娜", "欧阳**"},
		{"CompoundSurname3KeepsOne", "欧阳娜", "欧**"},
		{"CompoundSurnameWithDotsKeepsOne", "欧阳··", "欧*··"},
		{"MiddleDot", "阿依·买买提", "阿*·***"},
		{"Latin", "John Smith", "J*** S****"},
		{"LatinUpper", "SMITH, JOHN", "S****, J***"},
		{"Apostrophe", "O'NEIL-SMITH, MARY", "O'****-S****, M***"},
		{"Padded", "  Anna  ", "A***"},
		{"Cyrillic", "Иван Петров", "И*** П*****"},
		{"DigitFirst", "2Pac", "****"},
		{"Empty", "", ""},
		{"Blank", " \t ", ""},
		{"InvalidUTF8", "\xff\xfeAB", "****"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaskName(tc.in); got != tc.want {
				t.Errorf("MaskName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestMaskNameBounded(t *testing.T) {
	got := MaskName(strings.Repeat("张", 100000))
	if n := utf8.RuneCountInString(got); n != maxMaskedRunes+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("long name masked to %d runes %q", n, got)
	}
}

func TestNewName(t *testing.T) {
	n := NewName("  张三丰 ")
	if n.Reveal() != "张三丰" || n.Masked() != "张**" || n.IsZero() {
		t.Errorf("NewName: reveal %q masked %q", n.Reveal(), n.Masked())
	}
	if !NewName("").IsZero() || !NewName("   ").IsZero() || NewName("").Reveal() != "" {
		t.Error("empty name should be zero")
	}
	long := NewName(strings.Repeat("龍", 200)) // 600 bytes
	if len(long.Reveal()) > 256 || !utf8.ValidString(long.Reveal()) {
		t.Errorf("long name kept %d bytes, valid utf8 %v", len(long.Reveal()), utf8.ValidString(long.Reveal()))
	}
	if !NewName("A B").Equal(NewName(" A B")) || NewName("A").Equal(NewName("B")) {
		t.Error("Equal wrong")
	}
}

// FuzzMaskName: never panics, output bounded, and a name with two
// consecutive non-separator characters never comes back unchanged.
func FuzzMaskName(f *testing.F) {
	for _, s := range []string{"张三", "欧阳娜娜", "John Smith", "O'NEIL-SMITH, MARY", "阿依·买买提", "", "\xff", "a b c", "欧阳··", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := MaskName(s)
		if utf8.RuneCountInString(m) > maxMaskedRunes+1 {
			t.Fatalf("output too long: %d runes", utf8.RuneCountInString(m))
		}
		trimmed := strings.TrimSpace(s)
		prev := false
		consecutive := false
		for _, r := range trimmed {
			sep := isNameSeparator(r)
			if !sep && prev && r != '*' {
				consecutive = true
				break
			}
			prev = !sep
		}
		if consecutive && m == trimmed {
			t.Fatalf("MaskName(%q) returned the name unchanged", s)
		}
		// Every character after the kept ones is masked: at most the
		// first character of each word (or a two-character surname) is
		// visible, so the masked text never has two consecutive visible
		// letters except a compound surname at the start.
		rs := []rune(m)
		for i := 1; i < len(rs); i++ {
			if rs[i] != '*' && !isNameSeparator(rs[i]) && !isNameSeparator(rs[i-1]) && rs[i-1] != '*' && rs[i] != '…' {
				if i == 1 && unicode.Is(unicode.Han, rs[0]) {
					continue // compound surname
				}
				t.Fatalf("MaskName(%q) = %q keeps consecutive characters", s, m)
			}
		}
	})
}
