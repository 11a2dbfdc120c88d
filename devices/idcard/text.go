package idcard

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// TextLen is the size of the text block on every card type.
const TextLen = 256

// flagOffset is where the card-type flag (one UCS-2 character) sits.
const flagOffset = 248

// Kind is the card-type flag at byte 248 of the text block (docs/devices.md "Text block").
type Kind byte

// The card types a GA 467 reader returns.
const (
	KindResident    Kind = ' ' // 居民身份证
	KindPermit      Kind = 'J' // 港澳台居民居住证
	KindForeign2017 Kind = 'I' // 外国人永久居留身份证 (2017, 15-character number)
	KindForeign2023 Kind = 'Y' // 外国人永久居留身份证 (2023, 18-digit number)
)

// Kinds lists every supported kind.
var Kinds = []Kind{KindResident, KindPermit, KindForeign2017, KindForeign2023}

// String names the kind for logs: "resident", "permit-J", "foreign-I",
// "foreign-Y", or the raw flag.
func (k Kind) String() string {
	switch k {
	case KindResident:
		return "resident"
	case KindPermit:
		return "permit-J"
	case KindForeign2017:
		return "foreign-I"
	case KindForeign2023:
		return "foreign-Y"
	}
	return fmt.Sprintf("flag-%q", rune(k))
}

// Text errors.
var (
	ErrTextLength  = errors.New("idcard: text block is not 256 bytes")
	ErrUnknownKind = errors.New("idcard: unknown card-type flag")
	ErrFieldLength = errors.New("idcard: field too long for its slot")
)

// LongTerm is what a long-term card stores instead of a valid-to date.
const LongTerm = "长期"

// Text is the decoded text block, every field trimmed of its space (and
// NUL) padding. Which fields are set depends on Kind; dates are the raw
// YYYYMMDD strings (ValidTo may be LongTerm). It is personal information:
// String and every fmt verb show only the kind.
type Text struct {
	Kind         Kind
	Name         string // resident, J, Y: name; I: Chinese name (may be empty)
	EnglishName  string // I, Y
	Gender       string // GB/T 2261.1 code
	Nation       string // resident: GB 3304 code
	Birth        string
	Address      string // resident, J
	Number       string
	Authority    string // resident, J: 签发机关
	ValidFrom    string
	ValidTo      string
	PermitNumber string // J: travel-permit number
	IssueCount   string // J: issue count; Y: renewal count
	Nationality  string // I, Y: GB/T 2659 alpha-3
	CardVersion  string // I
	AuthCode     string // I: accepting-authority code
	PrevNumber   string // Y: link to the previous 15-character number (3 characters)
}

// String shows the kind only.
func (t Text) String() string { return "idcard.Text{" + t.Kind.String() + "}" }

// Format shows the kind only, for every verb.
func (t Text) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(t.String())) }

// field is one fixed-width UCS-2 slot.
type field struct {
	off, size int
	get       func(*Text) *string
}

func f(off, size int, get func(*Text) *string) field { return field{off, size, get} }

// layouts by kind (docs/devices.md "Text block"); sizes in bytes.
var layouts = map[Kind][]field{
	KindResident: {
		f(0, 30, func(t *Text) *string { return &t.Name }),
		f(30, 2, func(t *Text) *string { return &t.Gender }),
		f(32, 4, func(t *Text) *string { return &t.Nation }),
		f(36, 16, func(t *Text) *string { return &t.Birth }),
		f(52, 70, func(t *Text) *string { return &t.Address }),
		f(122, 36, func(t *Text) *string { return &t.Number }),
		f(158, 30, func(t *Text) *string { return &t.Authority }),
		f(188, 16, func(t *Text) *string { return &t.ValidFrom }),
		f(204, 16, func(t *Text) *string { return &t.ValidTo }),
	},
	KindPermit: {
		f(0, 30, func(t *Text) *string { return &t.Name }),
		f(30, 2, func(t *Text) *string { return &t.Gender }),
		f(36, 16, func(t *Text) *string { return &t.Birth }),
		f(52, 70, func(t *Text) *string { return &t.Address }),
		f(122, 36, func(t *Text) *string { return &t.Number }),
		f(158, 30, func(t *Text) *string { return &t.Authority }),
		f(188, 16, func(t *Text) *string { return &t.ValidFrom }),
		f(204, 16, func(t *Text) *string { return &t.ValidTo }),
		f(220, 18, func(t *Text) *string { return &t.PermitNumber }),
		f(238, 4, func(t *Text) *string { return &t.IssueCount }),
	},
	KindForeign2017: {
		f(0, 120, func(t *Text) *string { return &t.EnglishName }),
		f(120, 2, func(t *Text) *string { return &t.Gender }),
		f(122, 30, func(t *Text) *string { return &t.Number }),
		f(152, 6, func(t *Text) *string { return &t.Nationality }),
		f(158, 30, func(t *Text) *string { return &t.Name }),
		f(188, 16, func(t *Text) *string { return &t.ValidFrom }),
		f(204, 16, func(t *Text) *string { return &t.ValidTo }),
		f(220, 16, func(t *Text) *string { return &t.Birth }),
		f(236, 4, func(t *Text) *string { return &t.CardVersion }),
		f(240, 8, func(t *Text) *string { return &t.AuthCode }),
	},
	KindForeign2023: {
		f(0, 30, func(t *Text) *string { return &t.Name }),
		f(30, 2, func(t *Text) *string { return &t.Gender }),
		f(32, 4, func(t *Text) *string { return &t.IssueCount }),
		f(36, 16, func(t *Text) *string { return &t.Birth }),
		// English name: 52/70 then 220/22, joined before trimming (below)
		f(122, 36, func(t *Text) *string { return &t.Number }),
		f(188, 16, func(t *Text) *string { return &t.ValidFrom }),
		f(204, 16, func(t *Text) *string { return &t.ValidTo }),
		f(242, 6, func(t *Text) *string { return &t.Nationality }),
		f(250, 6, func(t *Text) *string { return &t.PrevNumber }),
	},
}

// The 2023 card splits the English name over two slots.
const (
	y23Name1Off, y23Name1Size = 52, 70
	y23Name2Off, y23Name2Size = 220, 22
)

// ParseText decodes a 256-byte text block: the flag first, then the
// matching layout. Errors: ErrTextLength, ErrUnknownKind (wrapped with the
// flag). It never fails on field contents — validation is app's job.
func ParseText(b []byte) (Text, error) {
	if len(b) != TextLen {
		return Text{}, fmt.Errorf("%w: %d bytes", ErrTextLength, len(b))
	}
	var t Text
	flag := uint16(b[flagOffset]) | uint16(b[flagOffset+1])<<8
	t.Kind = Kind(flag)
	lay, ok := layouts[t.Kind]
	if !ok || flag > 0x7F {
		return Text{}, fmt.Errorf("%w: U+%04X", ErrUnknownKind, flag)
	}
	for _, fl := range lay {
		*fl.get(&t) = trim(decodeUCS2(b[fl.off : fl.off+fl.size]))
	}
	if t.Kind == KindForeign2023 {
		t.EnglishName = trim(decodeUCS2(b[y23Name1Off:y23Name1Off+y23Name1Size]) +
			decodeUCS2(b[y23Name2Off:y23Name2Off+y23Name2Size]))
	}
	return t, nil
}

// EncodeText builds the 256-byte block for t (used by the simulator and the
// round-trip fuzz test). Fields are space padded; a field that does not
// fit its slot is ErrFieldLength; an unknown kind is ErrUnknownKind.
func EncodeText(t Text) ([]byte, error) {
	lay, ok := layouts[t.Kind]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, rune(t.Kind))
	}
	b := make([]byte, TextLen)
	fillSpaces(b)
	for _, fl := range lay {
		if err := put(b[fl.off:fl.off+fl.size], *fl.get(&t)); err != nil {
			return nil, err
		}
	}
	if t.Kind == KindForeign2023 {
		u := utf16.Encode([]rune(t.EnglishName))
		n1 := y23Name1Size / 2
		if len(u) > n1+y23Name2Size/2 {
			return nil, fmt.Errorf("%w: english name", ErrFieldLength)
		}
		head, tail := u, []uint16(nil)
		if len(u) > n1 {
			head, tail = u[:n1], u[n1:]
		}
		putUnits(b[y23Name1Off:y23Name1Off+y23Name1Size], head)
		putUnits(b[y23Name2Off:y23Name2Off+y23Name2Size], tail)
	}
	b[flagOffset], b[flagOffset+1] = byte(t.Kind), 0
	return b, nil
}

func fillSpaces(b []byte) {
	for i := 0; i+1 < len(b); i += 2 {
		b[i], b[i+1] = 0x20, 0x00
	}
}

func put(slot []byte, s string) error {
	u := utf16.Encode([]rune(s))
	if len(u)*2 > len(slot) {
		return fmt.Errorf("%w: %d of %d bytes", ErrFieldLength, len(u)*2, len(slot))
	}
	putUnits(slot, u)
	return nil
}

func putUnits(slot []byte, u []uint16) {
	for i, c := range u {
		slot[2*i], slot[2*i+1] = byte(c), byte(c>>8)
	}
}

// decodeUCS2 decodes little-endian UTF-16 (UCS-2 on the card); unpaired
// surrogates become U+FFFD.
func decodeUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

// trim removes the space padding (and, defensively, NULs some readers
// leave) on both sides.
func trim(s string) string { return strings.Trim(s, " \x00") }
