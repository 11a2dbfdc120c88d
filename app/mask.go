package app

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Name is a person's name as printed on a document. It is personal
// information: String, Format (every verb), GoString, LogValue and
// MarshalJSON give Masked; Reveal is the only way to the full name. Like
// DocNumber it keeps the text behind a pointer so reflection-based printing
// of an unexported field shows an address; compare with Equal.
type Name struct {
	p *string
}

// NewName returns s (trimmed) as a Name; an empty s gives the zero Name.
// Names longer than 256 bytes are cut at a character boundary: no document
// holds a longer one (the longest field, the English name on a
// permanent-resident card, is 60 characters).
func NewName(s string) Name {
	s = strings.TrimSpace(s)
	if len(s) > 256 {
		cut := 256
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	if s == "" {
		return Name{}
	}
	return Name{p: &s}
}

// Reveal returns the full name. Use it only on the clerk's compare screen
// and in requests that must carry the name; never log it.
func (n Name) Reveal() string {
	if n.p == nil {
		return ""
	}
	return *n.p
}

// IsZero reports whether n is empty.
func (n Name) IsZero() bool { return n.p == nil }

// Equal reports whether n and o hold the same text.
func (n Name) Equal(o Name) bool { return n.Reveal() == o.Reveal() }

// Masked returns MaskName of the name.
func (n Name) Masked() string { return MaskName(n.Reveal()) }

// String returns Masked.
func (n Name) String() string { return n.Masked() }

// GoString returns a Go-syntax-like form holding only the masked name.
func (n Name) GoString() string { return fmt.Sprintf("app.Name{%q}", n.Masked()) }

// Format makes every verb print the masked name.
func (n Name) Format(f fmt.State, verb rune) { formatRedacted(f, verb, n.Masked(), n.GoString()) }

// LogValue makes slog log the masked name.
func (n Name) LogValue() slog.Value { return slog.StringValue(n.Masked()) }

// MarshalJSON encodes the masked name. There is no UnmarshalJSON on purpose.
func (n Name) MarshalJSON() ([]byte, error) { return json.Marshal(n.Masked()) }

// maxMaskedRunes bounds MaskName's output; longer input ends in "…".
const maxMaskedRunes = 64

// compoundSurnames are common two-character Chinese surnames (复姓). For a
// name that starts with one and has at least four characters, the whole
// surname is kept, as in 欧阳** — the surname reveals no more than a
// one-character surname does. In a three-character name such as 欧阳娜
// only the first character is kept (欧**), because keeping two of three
// would leave a single hidden character.
var compoundSurnames = []string{
	"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
	"宇文", "司徒", "夏侯", "轩辕", "令狐", "端木", "南宫", "西门", "独孤", "呼延",
	"澹台", "公冶", "宗政", "濮阳", "淳于", "单于", "太叔", "申屠", "钟离", "闻人",
	"万俟", "赫连", "百里", "东郭", "拓跋", "司空", "鲜于", "闾丘", "子车", "亓官",
}

// MaskName masks a person's name for display (docs/storage-privacy.md "Personal data";
// after hutool's CHINESE_NAME):
//
//   - Chinese names (first letter a Han character): the first character and
//     one '*' per remaining character — 张三 → 张*, 王小明 → 王**; a
//     compound surname is kept whole in names of four or more characters
//     (not counting separators)
//     (欧阳娜娜 → 欧阳**). The middle dot of transliterated names stays
//     (阿依·买买提 → 阿*·***).
//   - Other names: the first letter of each word and one '*' per remaining
//     letter; spaces, hyphens, commas, apostrophes and dots stay (an
//     apostrophe does not start a new word) — John Smith
//     → J*** S****, O'NEIL-SMITH, MARY → O'**** S****, M***.
//
// Every character that is not kept becomes exactly one '*' (so the length
// shows, as on the card). Output is bounded: at most 64 characters plus
// "…". Invalid UTF-8 bytes count as characters and are masked.
func MaskName(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	rs := []rune(s)
	if len(rs) > 4*maxMaskedRunes {
		rs = rs[:4*maxMaskedRunes]
	}
	out := make([]rune, 0, len(rs))
	if han := firstLetterIsHan(rs); han {
		keep := 1
		if countNonSeparators(rs) >= 4 {
			for _, c := range compoundSurnames {
				if strings.HasPrefix(s, c) {
					keep = 2
					break
				}
			}
		}
		for i, r := range rs {
			switch {
			case i < keep:
				out = append(out, r)
			case isNameSeparator(r):
				out = append(out, r)
			default:
				out = append(out, '*')
			}
		}
	} else {
		wordStart := true
		for _, r := range rs {
			switch {
			case r == '\'':
				out = append(out, r) // O'NEIL: the apostrophe does not start a word
			case isNameSeparator(r):
				out = append(out, r)
				wordStart = true
			case wordStart && r != utf8.RuneError && unicode.IsLetter(r):
				out = append(out, r)
				wordStart = false
			default:
				out = append(out, '*')
				wordStart = false
			}
		}
	}
	if len(out) > maxMaskedRunes {
		return string(out[:maxMaskedRunes]) + "…"
	}
	return string(out)
}

func firstLetterIsHan(rs []rune) bool {
	for _, r := range rs {
		if unicode.Is(unicode.Han, r) {
			return true
		}
		if unicode.IsLetter(r) {
			return false
		}
	}
	return false
}

// isNameSeparator: characters that separate name parts and carry no
// identity of their own.
func isNameSeparator(r rune) bool {
	switch r {
	case ' ', '-', ',', '\'', '.', '·', '•', '・', '\u3000':
		return true
	}
	return false
}

func countNonSeparators(rs []rune) int {
	n := 0
	for _, r := range rs {
		if !isNameSeparator(r) {
			n++
		}
	}
	return n
}
