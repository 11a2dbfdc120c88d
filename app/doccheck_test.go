package app

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckDocument(t *testing.T) {
	tests := []struct {
		name, typ, raw string
		lang           Lang
		want           DocCheck
	}{
		{"OK_CNID", "cn-id", "11010519491231002X", LangEN, DocCheck{Type: "cn-id", Valid: true, Masked: "1**************02X"}},
		{"OK_AutoResidence", "auto", "810000199408230021", LangEN, DocCheck{Type: "residence-permit", Valid: true, Masked: "8**************021"}},
		{"OK_EmptyTypeIsAuto", "", "H12345678", LangEN, DocCheck{Type: "hkmo-permit", Valid: true, Masked: "H******78"}},
		{"OK_TypeUpperCase", "PASSPORT", "GBR 123456789", LangEN, DocCheck{Type: "passport", Valid: true, Masked: "GBR 1******89"}},
		{"ErrCheckDigit_EN", "cn-id", "110105194912310021", LangEN, DocCheck{Type: "cn-id", Error: "The check digit of the resident ID number is wrong; check the number for a typing error.", Reason: "check_digit"}},
		{"ErrCheckDigit_ZH", "cn-id", "110105194912310021", LangZH, DocCheck{Type: "cn-id", Error: "居民身份证号码校验位不正确，请核对是否输错。", Reason: "check_digit"}},
		{"ErrAutoDetected", "auto", "KAZ110090123107", LangEN, DocCheck{Type: "foreign-pr", Reason: "check_digit"}},
		{"ErrAutoUnknown", "auto", "ABCDEFG", LangEN, DocCheck{Type: "auto", Reason: "unknown_type"}},
		{"ErrUnknownType", "11010519491231002X", "11010519491231002X", LangEN, DocCheck{Type: "", Reason: "type"}},
		{"ErrFirstGeneration", "cn-id", "610104620927690", LangEN, DocCheck{Type: "cn-id", Reason: "first_generation"}},
		{"ErrTooLong", "cn-id", strings.Repeat("x", 10240), LangEN, DocCheck{Type: "cn-id", Reason: "too_long"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckDocument(tc.typ, tc.raw, tc.lang)
			if tc.want.Error == "" && !tc.want.Valid {
				if got.Error == "" {
					t.Errorf("no error message")
				}
				got.Error = ""
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			js, _ := json.Marshal(CheckDocument(tc.typ, tc.raw, tc.lang))
			if !utf8.Valid(js) || len(js) > 400 {
				t.Errorf("JSON too long or invalid: %d bytes", len(js))
			}
			if !tc.want.Valid && len(tc.raw) >= 6 && strings.Contains(string(js), tc.raw) {
				t.Errorf("JSON echoes the input: %s", js)
			}
		})
	}
	js, _ := json.Marshal(CheckDocument("cn-id", "11010519491231002X", LangEN))
	if string(js) != `{"type":"cn-id","valid":true,"masked":"1**************02X"}` {
		t.Errorf("valid JSON = %s", js)
	}
}
