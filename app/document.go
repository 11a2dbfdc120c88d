package app

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// DocType names a kind of identity document. The string values are the
// names used on the command line (`stationdesk doc check --type TYPE`), in
// JSON and in stored records; they never change.
type DocType string

// The document types the desk accepts (docs/rules.md, docs/devices.md "Identity numbers").
const (
	DocCNID            DocType = "cn-id"            // 居民身份证, GB 11643-1999
	DocResidencePermit DocType = "residence-permit" // 港澳台居民居住证 (chip flag J)
	DocForeignPR       DocType = "foreign-pr"       // 外国人永久居留身份证, 2017 (flag I) and 2023 (flag Y) forms
	DocHKMOPermit      DocType = "hkmo-permit"      // 港澳居民来往内地通行证
	DocTWPermit        DocType = "tw-permit"        // 台湾居民来往大陆通行证
	DocPassport        DocType = "passport"         // any state's passport, ICAO 9303
)

// DocTypes lists every DocType in the order the desk offers them.
var DocTypes = []DocType{DocCNID, DocResidencePermit, DocForeignPR, DocHKMOPermit, DocTWPermit, DocPassport}

// ParseDocType returns the DocType named s (case-insensitive, surrounding
// space ignored). An unknown name is a CodeInvalid error with reason "type".
func ParseDocType(s string) (DocType, error) {
	if len(s) <= 64 {
		t := DocType(strings.ToLower(strings.TrimSpace(s)))
		for _, k := range DocTypes {
			if t == k {
				return k, nil
			}
		}
	}
	return "", NewError(CodeInvalid, "type",
		"未知的证件类型，可选：cn-id、residence-permit、foreign-pr、hkmo-permit、tw-permit、passport。",
		"Unknown document type; choose one of cn-id, residence-permit, foreign-pr, hkmo-permit, tw-permit, passport.")
}

// Label returns the document's name for a clerk, in l (Chinese unless l is
// LangEN). An unknown type returns its raw value.
func (t DocType) Label(l Lang) string {
	zh, en := docLabel(t)
	if zh == "" {
		return string(t)
	}
	if l == LangEN {
		return en
	}
	return zh
}

func docLabel(t DocType) (zh, en string) {
	switch t {
	case DocCNID:
		return "居民身份证", "Resident ID card"
	case DocResidencePermit:
		return "港澳台居民居住证", "Residence permit for Hong Kong, Macao and Taiwan residents"
	case DocForeignPR:
		return "外国人永久居留身份证", "Foreign permanent resident ID card"
	case DocHKMOPermit:
		return "港澳居民来往内地通行证", "Mainland travel permit for Hong Kong and Macao residents"
	case DocTWPermit:
		return "台湾居民来往大陆通行证", "Mainland travel permit for Taiwan residents"
	case DocPassport:
		return "护照", "Passport"
	}
	return "", ""
}

// MaxDocInput is the longest raw input (in bytes) the document parsers look
// at. Anything longer is rejected with reason "too_long" before any other
// work, so a pasted 10 kB blob costs nothing. 64 bytes hold an 18-character
// number typed in full-width digits (3 bytes each) and a 44-character MRZ
// line.
const MaxDocInput = 64

// DocNumber is a validated identity-document number. The zero value is "no
// document" (IsZero). It can only be made by ParseDoc, ParseDocAt, DetectDoc
// and ParsePassport, so holding one means the number passed its type's rules.
//
// The number is personal information (PIPL art. 28). Reveal is the only way
// to get it; String, Format (every verb, %#v and %+v included), GoString,
// LogValue and MarshalJSON all give Masked. The number sits behind a pointer
// (to a pointer) so that even reflection-based printing of a struct holding a DocNumber in
// an unexported field (fmt, slog's fallback) shows an address, not digits.
// Because of that pointer, compare DocNumbers with Equal, never with ==.
type DocNumber struct {
	p **docData
}

// The double pointer is deliberate: fmt dereferences a pointer to a struct
// when it reports a bad verb (%!s(*T=&{...})), even inside an unexported
// field, but prints a pointer to a pointer as an address.

func newDocNumber(d *docData) DocNumber { return DocNumber{p: &d} }

func (n DocNumber) data() *docData {
	if n.p == nil {
		return nil
	}
	return *n.p
}

type docData struct {
	typ      DocType
	num      string // normalised number; for passports the number without nationality
	nat      string // ISO 3166 alpha-3 where the document carries it
	birth    time.Time
	hasBirth bool
	yy       bool   // birth year known only modulo 100 (YYMMDD fields)
	form     string // foreign-pr: "2017" or "2023"
}

// Type returns the document type ("" for the zero DocNumber).
func (n DocNumber) Type() DocType {
	if n.data() == nil {
		return ""
	}
	return n.data().typ
}

// IsZero reports whether n holds no document.
func (n DocNumber) IsZero() bool { return n.data() == nil }

// Reveal returns the full normalised number — for a passport the number
// without its nationality. It is the only way to get the digits: call it
// only where the full number is needed (the clerk's compare screen, the
// request to the central backend, the keyed hash) and never log the result.
func (n DocNumber) Reveal() string {
	if n.data() == nil {
		return ""
	}
	return n.data().num
}

// Equal reports whether n and o are the same document (type, number and,
// for passports, nationality).
func (n DocNumber) Equal(o DocNumber) bool {
	if n.data() == nil || o.data() == nil {
		return n.data() == o.data()
	}
	return n.data().typ == o.data().typ && n.data().num == o.data().num && n.data().nat == o.data().nat
}

// Form returns the version of a foreign permanent resident card, "2017"
// (15 characters, chip flag I) or "2023" (18 digits, chip flag Y); "" for
// other types.
func (n DocNumber) Form() string {
	if n.data() == nil {
		return ""
	}
	return n.data().form
}

// Nationality returns the holder's nationality as ISO 3166-1 alpha-3 where
// the number says it: the passport's issuing-state code as entered or read
// from the MRZ (MRZ "D" is returned as "DEU"), the 3 letters of a 2017
// permanent-resident number, the numeric code of a 2023 one mapped through
// a small table of common states ("" when not in the table). Resident ID
// cards, residence permits and both travel permits are issued to Chinese
// citizens only, so they return "CHN".
func (n DocNumber) Nationality() string {
	if n.data() == nil {
		return ""
	}
	return n.data().nat
}

// BirthDate returns the date of birth carried in the number (midnight UTC;
// compare calendar fields only) and true, or false when the document does
// not carry one (travel permits; passports parsed without an MRZ). For
// 2017 permanent-resident numbers and passport MRZs the number holds only
// YYMMDD; the century is taken as the latest one that does not put the
// birth in the future at parse time.
func (n DocNumber) BirthDate() (time.Time, bool) {
	if n.data() == nil || !n.data().hasBirth {
		return time.Time{}, false
	}
	return n.data().birth, true
}

// Masked returns the number masked for display (docs/storage-privacy.md: enough
// for a clerk to compare the document in hand, no region or birth date):
//
//   - 18-character numbers (cn-id, residence-permit, foreign-pr 2023): first
//     1 + 14 '*' + last 3, e.g. 1**************02X.
//   - shorter numbers (foreign-pr 2017, hkmo-permit, tw-permit, passport
//     numbers of 5–9 characters): first 1 + '*'s + last 2, e.g. H******78;
//     numbers of 3–4 characters keep only the first, 1–2 characters are all
//     '*'. Two trailing characters are kept instead of three because on a
//     9- or 10-character number three would show a third of it.
//   - passports are prefixed with their nationality: "GBR 1******89"; the
//     nationality is shown in full because it is printed on the cover and
//     needed to tell passports apart.
//
// The zero DocNumber masks to "".
func (n DocNumber) Masked() string {
	if n.data() == nil {
		return ""
	}
	m := maskDocNumber(n.data().num)
	if n.data().typ == DocPassport {
		return n.data().nat + " " + m
	}
	return m
}

// maskDocNumber masks an ASCII document number by the rules in Masked.
func maskDocNumber(s string) string {
	switch k := len(s); {
	case k >= 18:
		return s[:1] + strings.Repeat("*", k-4) + s[k-3:]
	case k >= 5:
		return s[:1] + strings.Repeat("*", k-3) + s[k-2:]
	case k >= 3:
		return s[:1] + strings.Repeat("*", k-1)
	default:
		return strings.Repeat("*", k)
	}
}

// String returns Masked.
func (n DocNumber) String() string { return n.Masked() }

// GoString returns a Go-syntax-like form holding only the masked number.
func (n DocNumber) GoString() string {
	if n.data() == nil {
		return "app.DocNumber{}"
	}
	return fmt.Sprintf("app.DocNumber{%s %q}", n.data().typ, n.Masked())
}

// Format makes every fmt verb print the masked number (%q quotes it, %#v
// prints GoString); width and flags apply to the masked text.
func (n DocNumber) Format(f fmt.State, verb rune) { formatRedacted(f, verb, n.Masked(), n.GoString()) }

// LogValue makes slog log the masked number.
func (n DocNumber) LogValue() slog.Value { return slog.StringValue(n.Masked()) }

// MarshalJSON encodes the masked number as a JSON string. There is no
// UnmarshalJSON on purpose: a masked number cannot become a DocNumber.
func (n DocNumber) MarshalJSON() ([]byte, error) { return json.Marshal(n.Masked()) }

// formatRedacted writes s for verb (so %s, %v, %q, widths work), or gs for
// %#v; any other verb prints s as %s would.
func formatRedacted(f fmt.State, verb rune, s, gs string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(gs))
	case verb == 'v' || verb == 's' || verb == 'q':
		_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), s)
	default:
		_, _ = f.Write([]byte(s))
	}
}

// ---------------------------------------------------------------------------
// Parsing

// ParseDoc normalises raw and validates it as a number of type t, using the
// wall clock for the "birth date not in the future" rule (ParseDocAt takes
// the time explicitly, for tests and replay).
//
// Normalisation: surrounding white space (ASCII and U+3000) is trimmed,
// full-width ASCII (０-９, Ａ-Ｚ, ＜ …) becomes ASCII, ASCII letters are
// upper-cased. Nothing else is forgiven: inner spaces or hyphens are
// "chars" errors.
//
// Every failure is an *Error with CodeInvalid, ZH and EN messages that say
// what is wrong without repeating the number, and one of the reasons
// "too_long" (raw longer than MaxDocInput bytes, checked first), "empty",
// "length", "chars", "prefix" (right shape, wrong type prefix), "region",
// "date", "check_digit", "first_generation" (15-digit resident number),
// "mrz_check" (passport MRZ check digit or disagreement), "type" (unknown t).
//
// For DocPassport raw is "NAT NUMBER", "NAT:NUMBER" (NAT = 3-letter
// ISO 3166 alpha-3 code) or a 44-character TD3 MRZ line 2.
func ParseDoc(t DocType, raw string) (DocNumber, error) {
	return ParseDocAt(t, raw, time.Now())
}

// ParseDocAt is ParseDoc with an explicit current time.
func ParseDocAt(t DocType, raw string, now time.Time) (DocNumber, error) {
	s, err := normalizeDoc(raw)
	if err != nil {
		return DocNumber{}, err
	}
	var (
		d  *docData
		e2 *Error
	)
	switch t {
	case DocCNID:
		d, e2 = parseCNID(s, now)
	case DocResidencePermit:
		d, e2 = parseResidencePermit(s, now)
	case DocForeignPR:
		d, e2 = parseForeignPR(s, now)
	case DocHKMOPermit:
		d, e2 = parseHKMOPermit(s)
	case DocTWPermit:
		d, e2 = parseTWPermit(s)
	case DocPassport:
		d, e2 = parsePassportRaw(s, now)
	default:
		_, err := ParseDocType(string(t))
		return DocNumber{}, err
	}
	if e2 != nil {
		return DocNumber{}, e2
	}
	return newDocNumber(d), nil
}

// DetectDoc recognises the document type of raw ("auto") and validates it
// with the wall clock; see DetectDocAt.
func DetectDoc(raw string) (DocNumber, error) { return DetectDocAt(raw, time.Now()) }

// DetectDocAt recognises the type of raw by its shape and validates it as
// that type:
//
//   - 18 characters: 810000/820000/830000… residence permit, 9… foreign-pr
//     2023, otherwise cn-id;
//   - 15 digits: a first-generation resident number (rejected,
//     "first_generation"); 15 characters starting with 3 letters: foreign-pr
//     2017;
//   - H or M + 8 or 10 digits: hkmo-permit; 8 or 10 digits: tw-permit;
//   - "NAT NUMBER", "NAT:NUMBER" or a 44-character MRZ line: passport.
//
// Errors are those of ParseDoc for the recognised type, or reason
// "unknown_type" when the shape matches none (a bare passport number cannot
// be told apart from other text: the clerk must choose "passport").
func DetectDocAt(raw string, now time.Time) (DocNumber, error) {
	t, err := detectType(raw)
	if err != nil {
		return DocNumber{}, err
	}
	return ParseDocAt(t, raw, now)
}

// detectType returns the type DetectDoc would parse raw as.
func detectType(raw string) (DocType, error) {
	s, err := normalizeDoc(raw)
	if err != nil {
		return "", err
	}
	switch {
	case len(s) == 18:
		switch {
		case isResidencePrefix(s[:6]):
			return DocResidencePermit, nil
		case s[0] == '9':
			return DocForeignPR, nil
		}
		return DocCNID, nil
	case len(s) == 15 && allDigits(s):
		return DocCNID, nil
	case len(s) == 15 && allLetters(s[:3]):
		return DocForeignPR, nil
	case (len(s) == 9 || len(s) == 11) && (s[0] == 'H' || s[0] == 'M') && allDigits(s[1:]):
		return DocHKMOPermit, nil
	case (len(s) == 8 || len(s) == 10) && allDigits(s):
		return DocTWPermit, nil
	case len(s) == mrzLen && strings.Contains(s, "<"):
		return DocPassport, nil
	case len(s) > 4 && allLetters(s[:3]) && (s[3] == ' ' || s[3] == ':'):
		return DocPassport, nil
	}
	return "", NewError(CodeInvalid, "unknown_type",
		"无法识别证件类型，请选择证件类型后重新输入。",
		"The document type could not be recognised; choose the document type and enter the number again.")
}

// normalizeDoc applies the normalisation described at ParseDoc.
func normalizeDoc(raw string) (string, *Error) {
	if len(raw) > MaxDocInput {
		return "", NewError(CodeInvalid, "too_long",
			fmt.Sprintf("输入过长（超过%d字节），不是有效的证件号码。", MaxDocInput),
			fmt.Sprintf("The input is too long (over %d bytes) to be a document number.", MaxDocInput))
	}
	var b strings.Builder
	b.Grow(len(raw))
	for _, r := range raw {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII block
			r = r - 0xFF01 + 0x21
		case r == 0x3000: // ideographic space
			r = ' '
		}
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		b.WriteRune(r)
	}
	s := strings.TrimSpace(b.String())
	if s == "" {
		return "", NewError(CodeInvalid, "empty", "请输入证件号码。", "Enter the document number.")
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "", NewError(CodeInvalid, "chars",
				"证件号码只能包含数字和拉丁字母（全角数字和字母可以）。",
				"A document number holds only digits and Latin letters (full-width ones are accepted).")
		}
	}
	return s, nil
}

// ---------------------------------------------------------------------------
// Error helpers. Messages name the document and the fault, never the number.

func errLength(t DocType, want string, got int) *Error {
	zh, _ := docLabel(t)
	return NewError(CodeInvalid, "length",
		fmt.Sprintf("%s号码应为%s位，输入为%d位。", zh, want, got),
		fmt.Sprintf("A %s number has %s characters; %d were entered.", docNoun(t), want, got))
}

func errChars(t DocType, zhRule, enRule string) *Error {
	zh, _ := docLabel(t)
	return NewError(CodeInvalid, "chars",
		fmt.Sprintf("%s号码含有不允许的字符：%s。", zh, zhRule),
		fmt.Sprintf("The %s number contains characters that are not allowed: %s.", docNoun(t), enRule))
}

func errDate(t DocType) *Error {
	zh, _ := docLabel(t)
	return NewError(CodeInvalid, "date",
		fmt.Sprintf("%s号码中的出生日期无效（不存在的日期、早于1900年或晚于今天）。", zh),
		fmt.Sprintf("The date of birth in the %s number is impossible (no such date, before 1900, or in the future).", docNoun(t)))
}

func errCheckDigit(t DocType) *Error {
	zh, _ := docLabel(t)
	return NewError(CodeInvalid, "check_digit",
		fmt.Sprintf("%s号码校验位不正确，请核对是否输错。", zh),
		fmt.Sprintf("The check digit of the %s number is wrong; check the number for a typing error.", docNoun(t)))
}

func errRegion(t DocType) *Error {
	zh, _ := docLabel(t)
	return NewError(CodeInvalid, "region",
		fmt.Sprintf("%s号码中的地区代码无效。", zh),
		fmt.Sprintf("The region code in the %s number is not valid.", docNoun(t)))
}

// docNoun is the short English name used inside sentences.
func docNoun(t DocType) string {
	switch t {
	case DocCNID:
		return "resident ID"
	case DocResidencePermit:
		return "residence permit"
	case DocForeignPR:
		return "permanent resident ID"
	case DocHKMOPermit:
		return "Hong Kong/Macao travel permit"
	case DocTWPermit:
		return "Taiwan travel permit"
	case DocPassport:
		return "passport"
	}
	return "document"
}

// ---------------------------------------------------------------------------
// GB 11643-1999 and friends

// mod112Weights are the GB 11643-1999 / ISO 7064 MOD 11-2 weights for the
// first 17 characters: W(i) = 2^(17-i) mod 11.
var mod112Weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// mod112Chars maps S mod 11 to the check character.
const mod112Chars = "10X98765432"

// mod112Check returns the check character for 17 ASCII digits.
func mod112Check(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * mod112Weights[i]
	}
	return mod112Chars[sum%11]
}

// provinces are the GB/T 2260 province-level codes (first two digits of a
// resident ID number), including 71 台湾 and 81/82 香港/澳门 as listed in
// GB/T 2260.
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true,
}

func isResidencePrefix(p string) bool {
	return p == "810000" || p == "820000" || p == "830000"
}

// check18 validates the shape shared by the 18-character numbers: length,
// 17 digits + digit/X, birth date at 6..14, MOD 11-2 check character. The
// prefix rules are the caller's.
func check18(t DocType, s string, now time.Time, prefix func(string) *Error) (*docData, *Error) {
	if len(s) != 18 {
		return nil, errLength(t, "18", runeLen(s))
	}
	if !allDigits(s[:17]) || !(isDigit(s[17]) || s[17] == 'X') {
		return nil, errChars(t, "前17位须为数字，最后一位为数字或X", "the first 17 must be digits, the last a digit or X")
	}
	if e := prefix(s); e != nil {
		return nil, e
	}
	birth, ok := ymd(s[6:10], s[10:12], s[12:14])
	if !ok || !plausibleBirth(birth, now) {
		return nil, errDate(t)
	}
	if mod112Check(s[:17]) != s[17] {
		return nil, errCheckDigit(t)
	}
	return &docData{typ: t, num: s, nat: "CHN", birth: birth, hasBirth: true}, nil
}

func parseCNID(s string, now time.Time) (*docData, *Error) {
	if len(s) == 15 && allDigits(s) {
		return nil, NewError(CodeInvalid, "first_generation",
			"这是15位的第一代身份证号码，已停止使用，请出示第二代居民身份证（18位）。",
			"This is a 15-digit first-generation ID number, which is no longer valid; ask for the second-generation card (18 characters).")
	}
	return check18(DocCNID, s, now, func(s string) *Error {
		if isResidencePrefix(s[:6]) {
			return NewError(CodeInvalid, "prefix",
				"这是港澳台居民居住证号码，请选择“港澳台居民居住证”。",
				"This is a residence-permit number for Hong Kong, Macao or Taiwan residents; choose that document type.")
		}
		if s[0] == '9' {
			return NewError(CodeInvalid, "prefix",
				"这是外国人永久居留身份证号码，请选择“外国人永久居留身份证”。",
				"This is a foreign permanent resident ID number; choose that document type.")
		}
		if s[:6] == "000000" || !provinces[s[:2]] {
			return errRegion(DocCNID)
		}
		return nil
	})
}

func parseResidencePermit(s string, now time.Time) (*docData, *Error) {
	return check18(DocResidencePermit, s, now, func(s string) *Error {
		if !isResidencePrefix(s[:6]) {
			return NewError(CodeInvalid, "prefix",
				"港澳台居民居住证号码应以810000（香港）、820000（澳门）或830000（台湾）开头。",
				"A residence-permit number starts with 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan).")
		}
		return nil
	})
}

// parseForeignPR accepts both forms of the foreign permanent resident ID
// card number:
//
//   - 2023 form (chip flag Y): 18 digits = "9" + 2-digit province of
//     acceptance + 3-digit ISO 3166-1 numeric nationality + YYYYMMDD +
//     3-digit sequence + GB 11643 MOD 11-2 check character.
//   - 2004/2017 form (chip flag I): 15 characters = 3-letter ISO 3166-1
//     alpha-3 nationality + 4-digit accepting-authority code (the first
//     four digits of a GB/T 2260 code, e.g. 1100 Beijing; the first two must
//     be a province) + YYMMDD birth date + 1 sex/sequence digit + 1 check
//     digit, computed with the ICAO 9303 7-3-1 scheme over the first 14
//     characters (A=10 … Z=35).
//
// Source: howardli/CredentialKit
// src/main/java/com/xiahaimoyu/credentialkit/processor/ForeignerPermanentResidenceIdNumberProcessor.java
// (pattern ^([A-Z]{3}\d{12}|9\d{16}[0-9X])$, field offsets, ICAO check over
// substring(0,14), MOD 11-2 over the 2023 form) and its test
// (KAZ110090123105 and 911398199012310021 valid), summarised in docs/devices.md
// "Identity numbers". Only the province part of the region codes is checked; the
// nationality codes are not checked against the ISO list.
func parseForeignPR(s string, now time.Time) (*docData, *Error) {
	switch len(s) {
	case 18:
		d, e := check18(DocForeignPR, s, now, func(s string) *Error {
			if s[0] != '9' {
				return NewError(CodeInvalid, "prefix",
					"2023版外国人永久居留身份证号码（18位）应以9开头。",
					"An 18-digit (2023) foreign permanent resident ID number starts with 9.")
			}
			if !provinces[s[1:3]] {
				return errRegion(DocForeignPR)
			}
			return nil
		})
		if d != nil {
			d.form = "2023"
			d.nat = numericNationality[s[3:6]]
		}
		return d, e
	case 15:
		if !allLetters(s[:3]) || !allDigits(s[3:]) {
			return nil, errChars(DocForeignPR, "15位号码须为3个字母加12位数字", "a 15-character number is 3 letters followed by 12 digits")
		}
		if !provinces[s[3:5]] {
			return nil, errRegion(DocForeignPR)
		}
		birth, ok := yymmdd(s[7:13], now)
		if !ok {
			return nil, errDate(DocForeignPR)
		}
		if c, _ := icaoCheck(s[:14]); c != s[14] {
			return nil, errCheckDigit(DocForeignPR)
		}
		return &docData{typ: DocForeignPR, num: s, nat: s[:3], birth: birth, hasBirth: true, yy: true, form: "2017"}, nil
	}
	return nil, errLength(DocForeignPR, "18（2023版）或15（2017版）", runeLen(s))
}

// parseHKMOPermit: H (Hong Kong) or M (Macao) + 8-digit lifetime number,
// optionally followed by a 2-digit issue count (CredentialKit
// HkMoTravelPermitNumberProcessor: ^[HM](\d{8}|\d{10})$). There is no check
// digit.
func parseHKMOPermit(s string) (*docData, *Error) {
	if len(s) != 9 && len(s) != 11 {
		return nil, errLength(DocHKMOPermit, "9或11", runeLen(s))
	}
	if (s[0] != 'H' && s[0] != 'M') || !allDigits(s[1:]) {
		return nil, errChars(DocHKMOPermit, "须为H或M加8位（或10位）数字", "it must be H or M followed by 8 (or 10) digits")
	}
	return &docData{typ: DocHKMOPermit, num: s, nat: "CHN"}, nil
}

// parseTWPermit: 8-digit lifetime number, optionally + 2-digit issue count
// (CredentialKit TwTravelPermitNumberProcessor: ^(\d{8}|\d{10})$). No check
// digit.
func parseTWPermit(s string) (*docData, *Error) {
	if len(s) != 8 && len(s) != 10 {
		return nil, errLength(DocTWPermit, "8或10", runeLen(s))
	}
	if !allDigits(s) {
		return nil, errChars(DocTWPermit, "须全部为数字", "it must be digits only")
	}
	return &docData{typ: DocTWPermit, num: s, nat: "CHN"}, nil
}

// ---------------------------------------------------------------------------
// Passports (ICAO 9303)

const mrzLen = 44

// ParsePassport validates a passport: nationality is the issuing state's
// ISO 3166-1 alpha-3 code (3 letters; the ICAO codes D for Germany and
// XXA/XXB/XXC/XXX are accepted, the list itself is not checked), number the
// document number, 1–9 characters A–Z 0–9 (ICAO 9303 part 4). mrzLine2, when
// not empty, is the 44-character second line of a TD3 machine-readable
// zone; its five 7-3-1 check digits (document number, birth date, expiry,
// personal number, composite) must hold and its number and nationality
// must agree with the other two arguments (reason "mrz_check"). With an MRZ
// the DocNumber also carries the birth date. Inputs are normalised like
// ParseDoc's; each longer than MaxDocInput bytes is rejected ("too_long").
// The wall clock resolves the MRZ's two-digit birth year.
func ParsePassport(nationality, number, mrzLine2 string) (DocNumber, error) {
	return ParsePassportAt(nationality, number, mrzLine2, time.Now())
}

// ParsePassportAt is ParsePassport with an explicit current time.
func ParsePassportAt(nationality, number, mrzLine2 string, now time.Time) (DocNumber, error) {
	d, e := parsePassport(nationality, number, mrzLine2, now)
	if e != nil {
		return DocNumber{}, e
	}
	return newDocNumber(d), nil
}

func parsePassportRaw(s string, now time.Time) (*docData, *Error) {
	if len(s) == mrzLen && strings.Contains(s, "<") {
		if !mrzChars(s) {
			return nil, errChars(DocPassport, "机读区只含A-Z、0-9和<", "a machine-readable line holds only A-Z, 0-9 and <")
		}
		nat := strings.TrimRight(s[10:13], "<")
		num := strings.TrimRight(s[0:9], "<")
		return parsePassport(nat, num, s, now)
	}
	i := strings.IndexAny(s, " :")
	if i < 0 {
		return nil, NewError(CodeInvalid, "chars",
			"护照请输入3位国籍代码、空格和护照号码（如 GBR 后接空格和号码），或扫描机读区第二行。",
			"For a passport enter the 3-letter nationality code, a space and the number (e.g. GBR, a space, the number), or scan the second MRZ line.")
	}
	return parsePassport(s[:i], strings.TrimSpace(s[i+1:]), "", now)
}

func parsePassport(nationality, number, mrz string, now time.Time) (*docData, *Error) {
	nat, err := normalizeDoc(nationality)
	if err != nil {
		if err.Reason == "empty" {
			return nil, NewError(CodeInvalid, "empty", "请输入护照签发国代码（3个字母，如GBR）。", "Enter the passport's nationality code (3 letters, e.g. GBR).")
		}
		return nil, err
	}
	if nat == "D" || nat == "D<<" {
		nat = "DEU"
	}
	if len(nat) != 3 || !allLetters(nat) {
		return nil, NewError(CodeInvalid, "chars",
			"国籍代码应为3个字母（ISO 3166，如GBR、USA）。",
			"The nationality code must be 3 letters (ISO 3166, e.g. GBR, USA).")
	}
	num, err := normalizeDoc(number)
	if err != nil {
		return nil, err
	}
	if len(num) > 9 {
		return nil, errLength(DocPassport, "1-9", runeLen(num))
	}
	for i := 0; i < len(num); i++ {
		if !isDigit(num[i]) && !isLetter(num[i]) {
			return nil, errChars(DocPassport, "护照号码只含字母A-Z和数字", "a passport number holds only letters A-Z and digits")
		}
	}
	d := &docData{typ: DocPassport, num: num, nat: nat}
	if mrz == "" {
		return d, nil
	}
	m, err := normalizeDoc(mrz)
	if err != nil {
		return nil, err
	}
	if len(m) != mrzLen {
		return nil, NewError(CodeInvalid, "length",
			fmt.Sprintf("护照机读区第二行应为44个字符，输入为%d个。", runeLen(m)),
			fmt.Sprintf("The second MRZ line of a passport has 44 characters; %d were entered.", runeLen(m)))
	}
	if !mrzChars(m) {
		return nil, errChars(DocPassport, "机读区只含A-Z、0-9和<", "a machine-readable line holds only A-Z, 0-9 and <")
	}
	if e := checkTD3Line2(m); e != nil {
		return nil, e
	}
	mnat := strings.TrimRight(m[10:13], "<")
	if mnat == "D" {
		mnat = "DEU"
	}
	if strings.TrimRight(m[0:9], "<") != num || mnat != nat {
		return nil, NewError(CodeInvalid, "mrz_check",
			"机读区中的护照号码或国籍与输入不一致。",
			"The passport number or nationality in the MRZ does not match the one entered.")
	}
	birth, ok := yymmdd(m[13:19], now)
	if !ok {
		return nil, errDate(DocPassport)
	}
	if _, ok := ymd("20"+m[21:23], m[23:25], m[25:27]); !ok {
		return nil, NewError(CodeInvalid, "date", "机读区中的有效期不是有效日期。", "The expiry date in the MRZ is not a valid date.")
	}
	d.birth, d.hasBirth, d.yy = birth, true, true
	return d, nil
}

// checkTD3Line2 verifies the five check digits of a TD3 MRZ line 2 (ICAO
// 9303 part 4 §4.2.2): positions (1-based) 10 over 1–9, 20 over 14–19, 28
// over 22–27, 43 over 29–42 (may be '<' when the personal number is all
// filler), 44 over 1–10, 14–20, 22–43.
func checkTD3Line2(m string) *Error {
	bad := func(what, whatEN string) *Error {
		return NewError(CodeInvalid, "mrz_check",
			"护照机读区"+what+"校验位不正确，请重新扫描或核对。",
			"The "+whatEN+" check digit in the passport MRZ is wrong; scan again or check the line.")
	}
	ok := func(field string, c byte) bool {
		v, good := icaoCheck(field)
		return good && v == c
	}
	if !ok(m[0:9], m[9]) {
		return bad("护照号码", "document number")
	}
	if !ok(m[13:19], m[19]) {
		return bad("出生日期", "birth date")
	}
	if !ok(m[21:27], m[27]) {
		return bad("有效期", "expiry date")
	}
	if !(m[42] == '<' && strings.Trim(m[28:42], "<") == "") && !ok(m[28:42], m[42]) {
		return bad("个人号码", "personal number")
	}
	if !ok(m[0:10]+m[13:20]+m[21:43], m[43]) {
		return bad("综合", "composite")
	}
	return nil
}

// icaoCheck computes the ICAO 9303 part 3 §4.9 check digit: character
// values 0–9, A–Z = 10–35, '<' = 0, weights 7,3,1 repeating, sum mod 10.
// ok is false if s holds any other character.
func icaoCheck(s string) (byte, bool) {
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v int
		switch {
		case isDigit(c):
			v = int(c - '0')
		case isLetter(c):
			v = int(c-'A') + 10
		case c == '<':
			v = 0
		default:
			return 0, false
		}
		sum += v * weights[i%3]
	}
	return byte('0' + sum%10), true
}

// ---------------------------------------------------------------------------
// small helpers

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

func mrzChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && !isLetter(s[i]) && s[i] != '<' {
			return false
		}
	}
	return true
}

func runeLen(s string) int { return len([]rune(s)) }

// chinaTime is UTC+8, the zone in which "today" is decided for birth dates
// and card expiry (China has had one zone without DST since 1991).
var chinaTime = time.FixedZone("CST", 8*3600)

// ymd parses a calendar date from digit strings; false for non-dates such
// as Feb 30.
func ymd(y, m, d string) (time.Time, bool) {
	if !allDigits(y) || !allDigits(m) || !allDigits(d) {
		return time.Time{}, false
	}
	yi, _ := strconv.Atoi(y)
	mi, _ := strconv.Atoi(m)
	di, _ := strconv.Atoi(d)
	t := time.Date(yi, time.Month(mi), di, 0, 0, 0, 0, time.UTC)
	if t.Year() != yi || int(t.Month()) != mi || t.Day() != di {
		return time.Time{}, false
	}
	return t, true
}

// plausibleBirth: on or after 1900-01-01 and not after today (UTC+8).
func plausibleBirth(b, now time.Time) bool {
	if b.Year() < 1900 {
		return false
	}
	return !b.After(civilDate(now))
}

// civilDate returns now's calendar date in China as midnight UTC.
func civilDate(now time.Time) time.Time {
	y, m, d := now.In(chinaTime).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// yymmdd parses a two-digit-year date, taking the latest century that does
// not put it after today.
func yymmdd(s string, now time.Time) (time.Time, bool) {
	if len(s) != 6 || !allDigits(s) {
		return time.Time{}, false
	}
	today := civilDate(now)
	century := today.Year() / 100 * 100
	for _, c := range []int{century, century - 100} {
		t, ok := ymd(strconv.Itoa(c+int(s[0]-'0')*10+int(s[1]-'0')), s[2:4], s[4:6])
		if ok && !t.After(today) && t.Year() >= 1900 {
			return t, true
		}
	}
	return time.Time{}, false
}

// numericNationality maps ISO 3166-1 numeric codes (as carried in a 2023
// permanent-resident number) to alpha-3 for common states. Codes not listed
// give "" from Nationality; the number is still valid.
var numericNationality = map[string]string{
	"004": "AFG", "032": "ARG", "036": "AUS", "040": "AUT", "050": "BGD", "056": "BEL",
	"076": "BRA", "104": "MMR", "116": "KHM", "124": "CAN", "152": "CHL", "170": "COL",
	"203": "CZE", "208": "DNK", "818": "EGY", "231": "ETH", "246": "FIN", "250": "FRA",
	"276": "DEU", "300": "GRC", "348": "HUN", "356": "IND", "360": "IDN", "364": "IRN",
	"368": "IRQ", "372": "IRL", "376": "ISR", "380": "ITA", "392": "JPN", "398": "KAZ",
	"404": "KEN", "408": "PRK", "410": "KOR", "417": "KGZ", "418": "LAO", "458": "MYS",
	"484": "MEX", "496": "MNG", "524": "NPL", "528": "NLD", "554": "NZL", "566": "NGA",
	"578": "NOR", "586": "PAK", "604": "PER", "608": "PHL", "616": "POL", "620": "PRT",
	"642": "ROU", "643": "RUS", "682": "SAU", "702": "SGP", "710": "ZAF", "724": "ESP",
	"144": "LKA", "752": "SWE", "756": "CHE", "762": "TJK", "764": "THA", "792": "TUR",
	"795": "TKM", "804": "UKR", "784": "ARE", "826": "GBR", "840": "USA", "860": "UZB",
	"862": "VEN", "704": "VNM",
}
