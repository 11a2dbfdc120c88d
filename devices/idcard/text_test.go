package idcard

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
	"unicode/utf16"

	"stationdesk/app"
)

// block builds a text block by writing UCS-2 strings at the literal byte
// offsets of docs/devices.md (text block) — independent of the layouts table.
func block(flag byte, at map[int]string) []byte {
	b := bytes.Repeat([]byte{0x20, 0x00}, 128)
	for off, s := range at {
		for i, u := range utf16.Encode([]rune(s)) {
			b[off+2*i], b[off+2*i+1] = byte(u), byte(u>>8)
		}
	}
	b[248] = flag
	return b
}

var now = time.Date(2026, 5, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func day(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func TestParseTextAllKinds(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want Text
	}{
		{"Resident", block(' ', map[int]string{0: "张三", 30: "2", 32: "01", 36: "19491231", 52: "北京市朝阳区示例路1号", 122: "11010519491231002X", 158: "北京市公安局朝阳分局", 188: "20200101", 204: LongTerm}),
			Text{Kind: KindResident, Name: "张三", Gender: "2", Nation: "01", Birth: "19491231", Address: "北京市朝阳区示例路1号", Number: "11010519491231002X", Authority: "北京市公安局朝阳分局", ValidFrom: "20200101", ValidTo: LongTerm}},
		{"PermitJ", block('J', map[int]string{0: "陈大文", 30: "2", 36: "19940823", 52: "北京市东城区示例街2号", 122: "810000199408230021", 158: "北京市公安局", 188: "20240101", 204: "20290101", 220: "H12345678", 238: "01"}),
			Text{Kind: KindPermit, Name: "陈大文", Gender: "2", Birth: "19940823", Address: "北京市东城区示例街2号", Number: "810000199408230021", Authority: "北京市公安局", ValidFrom: "20240101", ValidTo: "20290101", PermitNumber: "H12345678", IssueCount: "01"}},
		{"Foreign2017I", block('I', map[int]string{0: "IVANOVA, ANNA", 120: "2", 122: "KAZ110090123105", 152: "KAZ", 158: "安娜", 188: "20170601", 204: "20270601", 220: "19901231", 236: "01", 240: "1100"}),
			Text{Kind: KindForeign2017, EnglishName: "IVANOVA, ANNA", Gender: "2", Number: "KAZ110090123105", Nationality: "KAZ", Name: "安娜", ValidFrom: "20170601", ValidTo: "20270601", Birth: "19901231", CardVersion: "01", AuthCode: "1100"}},
		{"Foreign2023Y", block('Y', map[int]string{0: "司马约翰", 30: "2", 32: "00", 36: "19901231", 52: "SMITH-WILLIAMSON, JOHANNA ELIZABETH", 122: "911398199012310021", 188: "20240101", 204: "20340101", 220: " MARGARET", 242: "USA", 250: "KAZ"}),
			Text{Kind: KindForeign2023, Name: "司马约翰", Gender: "2", IssueCount: "00", Birth: "19901231", EnglishName: "SMITH-WILLIAMSON, JOHANNA ELIZABETH MARGARET", Number: "911398199012310021", ValidFrom: "20240101", ValidTo: "20340101", Nationality: "USA", PrevNumber: "KAZ"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseText(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got  %#v\nwant %#v", fields(got), fields(tt.want))
			}
			again, err := EncodeText(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, tt.raw) {
				t.Fatalf("EncodeText differs from the literal block")
			}
		})
	}
}

// fields prints a Text's fields for a failing test (Text itself redacts).
func fields(t Text) string {
	type plain Text
	return fmt.Sprintf("%+v", plain(t))
}

func TestParseTextErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"ErrTextLengthShort", make([]byte, 255), ErrTextLength},
		{"ErrTextLengthLong", make([]byte, 257), ErrTextLength},
		{"ErrUnknownKindX", block('X', nil), ErrUnknownKind},
		{"ErrUnknownKindNUL", block(0, nil), ErrUnknownKind},
		{"ErrUnknownKindHighByte", func() []byte { b := block('J', nil); b[249] = 0x01; return b }(), ErrUnknownKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseText(tt.raw); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestTextRedacts(t *testing.T) {
	tx := Text{Kind: KindResident, Name: "张三", Number: "11010519491231002X"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		s := fmt.Sprintf(verb, tx)
		if bytes.Contains([]byte(s), []byte("张三")) || bytes.Contains([]byte(s), []byte("1949")) {
			t.Fatalf("%s leaks: %s", verb, s)
		}
	}
}

func TestIdentity(t *testing.T) {
	resident := Text{Kind: KindResident, Name: "张三", Gender: "2", Nation: "01", Birth: "19491231", Address: "北京市朝阳区示例路1号", Number: "11010519491231002X", Authority: "北京市公安局朝阳分局", ValidFrom: "20200101", ValidTo: LongTerm}
	with := func(f func(*Text)) Text { x := resident; f(&x); return x }
	tests := []struct {
		name   string
		text   Text
		reason string // "" = OK
		check  func(t *testing.T, id app.Identity)
	}{
		{"ResidentLongTermOK", resident, "", func(t *testing.T, id app.Identity) {
			if !id.LongTerm || !id.ValidTo.IsZero() || id.Doc.Type() != app.DocCNID || id.Nation != "01" ||
				id.Gender != app.GenderFemale || id.Name.Reveal() != "张三" || !id.Birth.Equal(day(1949, 12, 31)) ||
				id.Address.Reveal() != "北京市朝阳区示例路1号" || id.Source != app.SourceReader || len(id.Photo) != 3 {
				t.Fatalf("fields wrong: %+v", id)
			}
		}},
		{"ResidentDatedOK", with(func(x *Text) { x.ValidTo = "20300101" }), "", func(t *testing.T, id app.Identity) {
			if id.LongTerm || !id.ValidTo.Equal(day(2030, 1, 1)) {
				t.Fatal("valid-to wrong")
			}
		}},
		{"PermitJOK", Text{Kind: KindPermit, Name: "陈大文", Gender: "2", Birth: "19940823", Address: "x", Number: "810000199408230021", Authority: "北京市公安局", ValidFrom: "20240101", ValidTo: "20290101", PermitNumber: "H12345678", IssueCount: "03"}, "",
			func(t *testing.T, id app.Identity) {
				if id.Doc.Type() != app.DocResidencePermit || id.PermitNumber != "H12345678" || id.IssueCount != 3 {
					t.Fatal("permit fields wrong")
				}
			}},
		{"Foreign2017IOK", Text{Kind: KindForeign2017, EnglishName: "IVANOVA, ANNA", Gender: "2", Number: "KAZ110090123105", Nationality: "KAZ", Name: "安娜", ValidFrom: "20170601", ValidTo: "20270601", Birth: "19901231"}, "",
			func(t *testing.T, id app.Identity) {
				if id.Doc.Type() != app.DocForeignPR || id.Name.Reveal() != "安娜" || id.OtherName.Reveal() != "IVANOVA, ANNA" || id.Nationality != "KAZ" {
					t.Fatal("foreign fields wrong")
				}
			}},
		{"Foreign2023YEnglishOnlyOK", Text{Kind: KindForeign2023, Gender: "2", IssueCount: "01", Birth: "19901231", EnglishName: "SMITH, JOHANNA", Number: "911398199012310021", ValidFrom: "20240101", ValidTo: "20340101", Nationality: "USA"}, "",
			func(t *testing.T, id app.Identity) {
				if id.Name.Reveal() != "SMITH, JOHANNA" || !id.OtherName.IsZero() || id.IssueCount != 1 {
					t.Fatal("foreign 2023 fields wrong")
				}
			}},
		{"BadCheckDigitRejected", with(func(x *Text) { x.Number = "110105194912310021" }), "check_digit", nil},
		{"BirthMismatchRejected", with(func(x *Text) { x.Birth = "19500101" }), "birth_mismatch", nil},
		{"ExpiredRejected", with(func(x *Text) { x.ValidTo = "20260430" }), "expired", nil},
		{"BadGenderRejected", with(func(x *Text) { x.Gender = "x" }), "card_data", nil},
		{"BadNationRejected", with(func(x *Text) { x.Nation = "77" }), "card_data", nil},
		{"BadValidToRejected", with(func(x *Text) { x.ValidTo = "2030013" }), "card_data", nil},
		{"Feb30Rejected", with(func(x *Text) { x.ValidFrom = "20200230" }), "card_data", nil},
		{"EmptyNameRejected", with(func(x *Text) { x.Name = "" }), "card_data", nil},
		{"WrongKindForNumberRejected", with(func(x *Text) { x.Kind = KindPermit }), "prefix", nil},
		{"UnknownKindRejected", with(func(x *Text) { x.Kind = 'Z' }), "unsupported_document", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := tt.text.Identity(now, []byte{1, 2, 3})
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				tt.check(t, id)
				return
			}
			if got := app.ErrorReason(err); got != tt.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tt.reason)
			}
			if app.ErrorCode(err) != app.CodeInvalid {
				t.Fatalf("code %q", app.ErrorCode(err))
			}
			if !id.Doc.IsZero() || !id.Name.IsZero() || id.Photo != nil {
				t.Fatal("a rejected card returned identity data")
			}
		})
	}
}

func TestTextOfRoundTrip(t *testing.T) {
	for _, tx := range []Text{
		{Kind: KindResident, Name: "张三", Gender: "2", Nation: "01", Birth: "19491231", Address: "北京市朝阳区示例路1号", Number: "11010519491231002X", Authority: "北京市公安局朝阳分局", ValidFrom: "20200101", ValidTo: LongTerm},
		{Kind: KindPermit, Name: "陈大文", Gender: "2", Birth: "19940823", Address: "x", Number: "810000199408230021", Authority: "北京市公安局", ValidFrom: "20240101", ValidTo: "20290101", PermitNumber: "H12345678", IssueCount: "03"},
		{Kind: KindForeign2017, EnglishName: "IVANOVA, ANNA", Gender: "2", Number: "KAZ110090123105", Nationality: "KAZ", Name: "安娜", ValidFrom: "20170601", ValidTo: "20270601", Birth: "19901231", CardVersion: "01", AuthCode: "1100"},
		{Kind: KindForeign2023, Gender: "2", IssueCount: "01", Birth: "19901231", EnglishName: "SMITH, JOHANNA", Number: "911398199012310021", ValidFrom: "20240101", ValidTo: "20340101", Nationality: "USA"},
	} {
		t.Run(tx.Kind.String(), func(t *testing.T) {
			id, err := tx.Identity(now, nil)
			if err != nil {
				t.Fatal(err)
			}
			back := TextOf(id, tx.Kind)
			if back != tx {
				t.Fatalf("got  %s\nwant %s", fields(back), fields(tx))
			}
		})
	}
}

func FuzzParseText(f *testing.F) {
	f.Add(block(' ', map[int]string{0: "张三", 122: "11010519491231002X", 204: LongTerm}))
	f.Add(block('J', map[int]string{0: "陈大文", 220: "H12345678"}))
	f.Add(block('I', map[int]string{0: "IVANOVA, ANNA", 122: "KAZ110090123105"}))
	f.Add(block('Y', map[int]string{52: "SMITH-WILLIAMSON, JOHANNA ELIZABETH", 220: " MARGARET"}))
	f.Add(make([]byte, 256))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := ParseText(b)
		if err != nil {
			return
		}
		_, _ = tx.Identity(now, nil) // must not panic
		enc, err := EncodeText(tx)
		if err != nil {
			return // e.g. a field that decoded to more UTF-16 units via U+FFFD
		}
		tx2, err := ParseText(enc)
		if err != nil || tx2 != tx {
			t.Fatalf("round trip: %v\n%s\n%s", err, fields(tx), fields(tx2))
		}
	})
}
