package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func mustDoc(t testing.TB, typ DocType, raw string) DocNumber {
	t.Helper()
	d, err := ParseDocAt(typ, raw, refNow)
	if err != nil {
		t.Fatalf("ParseDocAt(%s): %v", typ, err)
	}
	return d
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func sampleIdentity(t testing.TB) Identity {
	return Identity{
		Doc:       mustDoc(t, DocCNID, "11010519491231002X"),
		Name:      NewName("张三丰"),
		OtherName: NewName("Zhang Sanfeng"),
		Gender:    GenderMale,
		Nation:    "01",
		Birth:     date(1949, 12, 31),
		Address:   Sensitive("北京市朝阳区光华路甲8号"),
		Authority: "北京市公安局朝阳分局",
		ValidFrom: date(2019, 1, 1),
		ValidTo:   date(2039, 1, 1),
		Photo:     Photo(bytes.Repeat([]byte{0x57, 0x4c}, 512)),
		Source:    SourceReader,
	}
}

// TestRedaction formats every PII-holding type with every verb, through
// slog's text and JSON handlers and json.Marshal, and asserts that no full
// number, no name, no address and no photo byte pattern appears.
func TestRedaction(t *testing.T) {
	id := sampleIdentity(t)
	docs := map[string]DocNumber{
		"cn-id":      id.Doc,
		"residence":  mustDoc(t, DocResidencePermit, "810000199408230021"),
		"pr2023":     mustDoc(t, DocForeignPR, "911398199012310021"),
		"pr2017":     mustDoc(t, DocForeignPR, "KAZ110090123105"),
		"hkmo":       mustDoc(t, DocHKMOPermit, "H12345678"),
		"tw":         mustDoc(t, DocTWPermit, "12345678"),
		"passport":   mustDoc(t, DocPassport, "GBR 123456789"),
		"passportMR": mustDoc(t, DocPassport, "L898902C36UTO7408122F1204159ZE184226B<<<<<10"),
	}
	forbidden := []string{
		"11010519491231002X", "19491231", "0105194912", // full number, birth date, middle
		"810000199408230021", "0000199408", "911398199012310021", "1398199012",
		"KAZ110090123105", "1100901231", "12345678", "123456789", "L898902C3", "898902",
		"张三丰", "三丰", "Zhang", "Sanfeng", "anfeng", "光华路", "朝阳区光", "WLWL", "574c",
	}
	type exported struct {
		D DocNumber
		N Name
		I Identity
	}
	type unexported struct {
		d DocNumber
		n Name
	}
	values := map[string]any{
		"identity":   id,
		"identity*":  &id,
		"name":       id.Name,
		"othername":  id.OtherName,
		"sensitive":  id.Address,
		"photo":      id.Photo,
		"exported":   exported{D: id.Doc, N: id.Name, I: id},
		"unexported": unexported{d: id.Doc, n: id.Name},
		"slice":      []DocNumber{id.Doc, docs["passport"]},
		"map":        map[string]Name{"k": id.Name},
	}
	for k, d := range docs {
		values["doc/"+k] = d
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10v", "%-30s", "%T"}
	check := func(t *testing.T, where, out string) {
		t.Helper()
		for _, f := range forbidden {
			if strings.Contains(out, f) {
				t.Errorf("%s leaks %q: %s", where, f, out)
			}
		}
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			for _, verb := range verbs {
				check(t, verb, fmt.Sprintf(verb, v))
			}
			check(t, "Sprint", fmt.Sprint(v))
			check(t, "Sprintln", fmt.Sprintln(v))
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("msg", "v", v)
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("msg", "v", v)
			slog.New(slog.NewTextHandler(&buf, nil)).Info("msg", slog.Group("g", slog.Any("v", v)))
			check(t, "slog", buf.String())
			js, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			check(t, "json", string(js))
		})
	}
	// The redacted forms are still useful.
	if got := fmt.Sprintf("%v|%q|%s", id.Doc, id.Doc, id.Name); got != `1**************02X|"1**************02X"|张**` {
		t.Errorf("redacted forms = %s", got)
	}
	js, _ := json.Marshal(id)
	if string(js) != `{"doc_type":"cn-id","doc":"1**************02X","name":"张**","other_name":"Z**** S******","gender":"1","source":"reader"}` {
		t.Errorf("identity JSON = %s", js)
	}
	if got := fmt.Sprint(id.Photo); got != "[photo 1024 bytes]" {
		t.Errorf("photo prints %q", got)
	}
	if got := fmt.Sprintf("%v %#v", id.Address, id.Address); got != "[redacted] app.Sensitive([redacted])" {
		t.Errorf("sensitive prints %q", got)
	}
	// Reveal is the way through.
	if id.Doc.Reveal() != "11010519491231002X" || id.Name.Reveal() != "张三丰" || id.Address.Reveal() != "北京市朝阳区光华路甲8号" {
		t.Error("Reveal does not return the full values")
	}
}

func TestIdentityCheck(t *testing.T) {
	now := date(2026, 11, 21).Add(12 * time.Hour)
	base := sampleIdentity(t)
	pr2017 := Identity{Doc: mustDoc(t, DocForeignPR, "KAZ110090123105"), Birth: date(1990, 12, 31), ValidTo: date(2030, 1, 1)}
	tests := []struct {
		name   string
		mutate func(*Identity)
		reason string
	}{
		{"OK", func(*Identity) {}, ""},
		{"OK_LastValidDay", func(id *Identity) { id.ValidTo = date(2026, 11, 21) }, ""},
		{"OK_LongTerm", func(id *Identity) { id.ValidTo = time.Time{}; id.LongTerm = true }, ""},
		{"OK_LongTermIgnoresOldValidTo", func(id *Identity) { id.ValidTo = date(2000, 1, 1); id.LongTerm = true }, ""},
		{"OK_UnknownValidTo", func(id *Identity) { id.ValidTo = time.Time{} }, ""},
		{"OK_UnknownBirth", func(id *Identity) { id.Birth = time.Time{} }, ""},
		{"OK_BirthInOtherZone", func(id *Identity) { id.Birth = time.Date(1949, 12, 31, 0, 0, 0, 0, chinaTime) }, ""},
		{"OK_PermitWithoutBirthInNumber", func(id *Identity) { id.Doc = mustDoc(t, DocHKMOPermit, "H12345678") }, ""},
		{"OK_PR2017CenturyIgnored", func(id *Identity) { *id = pr2017; id.Birth = date(1990, 12, 31) }, ""},
		{"ErrExpired_Yesterday", func(id *Identity) { id.ValidTo = date(2026, 11, 20) }, "expired"},
		{"ErrBirthMismatch_Day", func(id *Identity) { id.Birth = date(1949, 12, 30) }, "birth_mismatch"},
		{"ErrBirthMismatch_Year", func(id *Identity) { id.Birth = date(1948, 12, 31) }, "birth_mismatch"},
		{"ErrBirthMismatch_PR2017", func(id *Identity) { *id = pr2017; id.Birth = date(1991, 12, 31) }, "birth_mismatch"},
		{"ErrEmpty", func(id *Identity) { id.Doc = DocNumber{} }, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := base
			tc.mutate(&id)
			err := id.Check(now)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("want nil, got %v", err)
				}
				return
			}
			if ErrorCode(err) != CodeInvalid || ErrorReason(err) != tc.reason {
				t.Fatalf("want invalid/%s, got %v", tc.reason, err)
			}
			if UserMessage(err, LangZH) == "" || UserMessage(err, LangEN) == "" {
				t.Error("missing message")
			}
		})
	}
	// Expiry is decided on the China calendar day: 23:30 UTC on the last
	// valid day is already the next day in Beijing.
	id := base
	id.ValidTo = date(2026, 11, 21)
	if !id.Expired(time.Date(2026, 11, 21, 16, 30, 0, 0, time.UTC)) {
		t.Error("00:30 CST on the day after ValidTo should be expired")
	}
	if id.Expired(time.Date(2026, 11, 21, 15, 30, 0, 0, time.UTC)) {
		t.Error("23:30 CST on ValidTo should not be expired")
	}
}

func TestGender(t *testing.T) {
	tests := []struct {
		code   string
		want   Gender
		zh, en string
	}{
		{"0", GenderUnknown, "未知", "Unknown"},
		{"1", GenderMale, "男", "Male"},
		{" 2 ", GenderFemale, "女", "Female"},
		{"9", GenderUnspecified, "未说明", "Not stated"},
	}
	for _, tc := range tests {
		g, err := ParseGender(tc.code)
		if err != nil || g != tc.want || g.Label(LangZH) != tc.zh || g.Label(LangEN) != tc.en || g.Code() != strings.TrimSpace(tc.code) {
			t.Errorf("ParseGender(%q) = %v %v %s/%s", tc.code, g, err, g.Label(LangZH), g.Label(LangEN))
		}
	}
	for _, bad := range []string{"", "3", "M", "11"} {
		if _, err := ParseGender(bad); ErrorReason(err) != "gender" {
			t.Errorf("ParseGender(%q) err %v", bad, err)
		}
	}
}

func TestNationName(t *testing.T) {
	tests := []struct {
		code   string
		zh, en string
		ok     bool
	}{
		{"01", "汉", "Han", true},
		{"1", "汉", "Han", true},
		{"02", "蒙古", "Mongol", true},
		{"46", "德昂", "Deang", true},
		{"56", "基诺", "Jino", true},
		{"97", "其他", "Other", true},
		{"98", "外国血统中国籍人士", "Chinese citizen of foreign origin", true},
		{"57", "", "", false},
		{"00", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		zh, ok1 := NationName(tc.code, LangZH)
		en, ok2 := NationName(tc.code, LangEN)
		if zh != tc.zh || en != tc.en || ok1 != tc.ok || ok2 != tc.ok {
			t.Errorf("NationName(%q) = %q/%q %v", tc.code, zh, en, ok1)
		}
	}
	// the table is complete: 01..56, 97, 98, each with two names
	for i := 1; i <= 56; i++ {
		if _, ok := NationName(fmt.Sprintf("%02d", i), LangZH); !ok {
			t.Errorf("code %02d missing", i)
		}
	}
	if len(nations) != 58 {
		t.Errorf("table has %d entries, want 58", len(nations))
	}
}
