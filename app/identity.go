package app

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Gender is the GB/T 2261.1 sex code as stored on ID cards (docs/devices.md "Text block").
type Gender uint8

// The GB/T 2261.1 codes.
const (
	GenderUnknown     Gender = 0 // 未知的性别
	GenderMale        Gender = 1 // 男
	GenderFemale      Gender = 2 // 女
	GenderUnspecified Gender = 9 // 未说明的性别
)

// ParseGender reads a one-digit code ("0", "1", "2", "9", surrounding
// spaces allowed). Anything else is a CodeInvalid error, reason "gender".
func ParseGender(code string) (Gender, error) {
	switch trimSpaces(code) {
	case "0":
		return GenderUnknown, nil
	case "1":
		return GenderMale, nil
	case "2":
		return GenderFemale, nil
	case "9":
		return GenderUnspecified, nil
	}
	return GenderUnknown, NewError(CodeInvalid, "gender", "性别代码无效。", "The sex code is not valid.")
}

// Label returns the gender's name in l (Chinese unless l is LangEN).
func (g Gender) Label(l Lang) string {
	zh, en := "未知", "Unknown"
	switch g {
	case GenderMale:
		zh, en = "男", "Male"
	case GenderFemale:
		zh, en = "女", "Female"
	case GenderUnspecified:
		zh, en = "未说明", "Not stated"
	}
	if l == LangEN {
		return en
	}
	return zh
}

// Code returns the one-digit code.
func (g Gender) Code() string { return strconv.Itoa(int(g)) }

// Sensitive is a piece of personal text (an address, a free-text note) that
// is never shown except through Reveal: every fmt verb, slog and JSON give
// "[redacted]". Being a string type, it cannot protect itself when held in
// an unexported struct field that is printed by reflection; keep it in
// exported fields (or in Identity).
type Sensitive string

const redacted = "[redacted]"

// Reveal returns the text.
func (s Sensitive) Reveal() string { return string(s) }

// String returns "[redacted]".
func (s Sensitive) String() string { return redacted }

// GoString returns "app.Sensitive([redacted])".
func (s Sensitive) GoString() string { return "app.Sensitive(" + redacted + ")" }

// Format prints "[redacted]" for every verb.
func (s Sensitive) Format(f fmt.State, verb rune) { formatRedacted(f, verb, redacted, s.GoString()) }

// LogValue logs "[redacted]".
func (s Sensitive) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON encodes "[redacted]".
func (s Sensitive) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// Photo is the raw photo block read from a card (1024 bytes of vendor WLT
// data on resident ID cards; we store it, never decode it). It prints as
// "[photo N bytes]" in fmt, slog and JSON.
type Photo []byte

// String returns "[photo N bytes]".
func (p Photo) String() string { return "[photo " + strconv.Itoa(len(p)) + " bytes]" }

// GoString returns "app.Photo([photo N bytes])".
func (p Photo) GoString() string { return "app.Photo(" + p.String() + ")" }

// Format prints String for every verb.
func (p Photo) Format(f fmt.State, verb rune) { formatRedacted(f, verb, p.String(), p.GoString()) }

// LogValue logs String.
func (p Photo) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalJSON encodes String.
func (p Photo) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// Identity is what an ID-card reader (Source "reader") or the clerk (Source
// "manual") tells about a person. Doc, Name, OtherName, Birth, Address,
// Nation and Photo are personal information. The whole value redacts
// itself: fmt (every verb), slog and JSON show only the document type, the
// masked number, the masked names, the sex code and the source; read the
// fields directly where they are needed.
type Identity struct {
	Doc          DocNumber
	Name         Name      // name as printed (Chinese name on most cards)
	OtherName    Name      // e.g. the English name on a foreigner's card
	Gender       Gender    // GB/T 2261.1
	Nation       string    // GB 3304 code ("01" …), resident ID cards only
	Nationality  string    // ISO 3166-1 alpha-3, foreigners' cards and passports
	Birth        time.Time // date of birth as printed (compare calendar fields)
	Address      Sensitive // 住址, resident cards and residence permits
	Authority    string    // 签发机关
	ValidFrom    time.Time // first valid day
	ValidTo      time.Time // last valid day; zero when unknown or LongTerm
	LongTerm     bool      // 长期: the card does not expire
	PermitNumber string    // travel-permit number printed on a J (residence permit) card
	IssueCount   int       // 签发次数 on J cards, renewal count on Y cards
	Photo        Photo
	Source       string // "reader" or "manual"
}

// Identity sources.
const (
	SourceReader = "reader"
	SourceManual = "manual"
)

// Expired reports whether the document's last valid day (ValidTo, a
// calendar date) lies before today in China (UTC+8). A LongTerm document
// or one whose ValidTo is unknown (zero) is not expired.
func (id Identity) Expired(now time.Time) bool {
	if id.LongTerm || id.ValidTo.IsZero() {
		return false
	}
	y, m, d := id.ValidTo.Date()
	last := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return civilDate(now).After(last)
}

// Check verifies an identity before it is used for a sale or a binding.
// It returns nil or a CodeInvalid *Error with reason
//   - "empty": there is no document number;
//   - "birth_mismatch": the printed birth date disagrees with the one the
//     number carries (compared on year, month and day; on year mod 100 for
//     numbers that hold only YYMMDD) — a misread or a forged card;
//   - "expired": see Expired.
//
// The number itself is valid by construction of DocNumber.
func (id Identity) Check(now time.Time) error {
	if id.Doc.IsZero() {
		return NewError(CodeInvalid, "empty", "缺少证件号码。", "The document number is missing.")
	}
	if b, ok := id.Doc.BirthDate(); ok && !id.Birth.IsZero() {
		y1, m1, d1 := b.Date()
		y2, m2, d2 := id.Birth.Date()
		if id.Doc.data().yy {
			y1, y2 = y1%100, y2%100
		}
		if y1 != y2 || m1 != m2 || d1 != d2 {
			return NewError(CodeInvalid, "birth_mismatch",
				"证件上的出生日期与证件号码不一致，请人工核对证件。",
				"The date of birth on the document does not match its number; check the document by hand.")
		}
	}
	if id.Expired(now) {
		return NewError(CodeInvalid, "expired",
			"证件已过有效期，请出示有效证件。",
			"The document has expired; ask for a valid document.")
	}
	return nil
}

// redactedView is the only shape in which an Identity is ever printed.
type redactedView struct {
	Type      DocType `json:"doc_type,omitempty"`
	Doc       string  `json:"doc,omitempty"`
	Name      string  `json:"name,omitempty"`
	OtherName string  `json:"other_name,omitempty"`
	Gender    string  `json:"gender"`
	Source    string  `json:"source,omitempty"`
}

func (id Identity) view() redactedView {
	return redactedView{
		Type: id.Doc.Type(), Doc: id.Doc.Masked(), Name: id.Name.Masked(),
		OtherName: id.OtherName.Masked(), Gender: id.Gender.Code(), Source: id.Source,
	}
}

// String returns a redacted one-line description.
func (id Identity) String() string {
	v := id.view()
	s := "Identity{" + string(v.Type) + " " + v.Doc + " " + v.Name
	if v.OtherName != "" {
		s += " / " + v.OtherName
	}
	return s + " gender=" + v.Gender + " source=" + v.Source + "}"
}

// GoString returns "app." + String.
func (id Identity) GoString() string { return "app." + id.String() }

// Format prints String for every verb (GoString for %#v).
func (id Identity) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, id.String(), id.GoString())
}

// LogValue logs the redacted fields as a group.
func (id Identity) LogValue() slog.Value {
	v := id.view()
	return slog.GroupValue(
		slog.String("doc_type", string(v.Type)), slog.String("doc", v.Doc),
		slog.String("name", v.Name), slog.String("gender", v.Gender), slog.String("source", v.Source))
}

// MarshalJSON encodes the redacted view only. There is no UnmarshalJSON:
// identities travel to the central backend through explicit request types
// that call Reveal.
func (id Identity) MarshalJSON() ([]byte, error) { return json.Marshal(id.view()) }

func trimSpaces(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
