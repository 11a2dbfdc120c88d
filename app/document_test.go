package app

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// refNow is the fixed "today" of the document tests.
var refNow = time.Date(2026, 11, 21, 10, 0, 0, 0, chinaTime)

// --- independent check-digit implementations (not sharing code with document.go)

// gbCheckStdnum computes the GB 11643 check character the way
// python-stdnum's stdnum/cn/ric.py does: (1 - 2*int(first17, 13)) % 11,
// 10 → X. Reading the 17 digits as a base-13 number works because
// 13 ≡ 2 (mod 11), so the place values are 2^(17-i) mod 11.
func gbCheckStdnum(first17 string) byte {
	v, ok := new(big.Int).SetString(first17, 13)
	if !ok {
		panic("bad digits " + first17)
	}
	r := new(big.Int).Sub(big.NewInt(1), new(big.Int).Mul(big.NewInt(2), v))
	r.Mod(r, big.NewInt(11))
	if r.Int64() == 10 {
		return 'X'
	}
	return byte('0' + r.Int64())
}

// gbValidFull is the standard's full-string test: Σ a_i·(2^(17-i) mod 11)
// over all 18 characters (X = 10) ≡ 1 (mod 11), weights computed here.
func gbValidFull(s string) bool {
	if len(s) != 18 {
		return false
	}
	sum := 0
	for i := 0; i < 18; i++ {
		w := 1
		for k := 0; k < 17-i; k++ {
			w = w * 2 % 11
		}
		a := int(s[i] - '0')
		if s[i] == 'X' {
			a = 10
		}
		sum += a * w
	}
	return sum%11 == 1
}

// withGB appends the check character to 17 digits.
func withGB(first17 string) string { return first17 + string(gbCheckStdnum(first17)) }

// icaoRef is a second ICAO 9303 7-3-1 implementation: value = index in
// "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", '<' = 0.
func icaoRef(s string) byte {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	w := []int{7, 3, 1}
	sum := 0
	for i, c := range s {
		v := strings.IndexRune(alphabet, c)
		if c == '<' {
			v = 0
		}
		if v < 0 {
			panic("bad mrz char")
		}
		sum += v * w[i%3]
	}
	return byte('0' + sum%10)
}

// td3 builds a TD3 MRZ line 2 with correct check digits.
func td3(number, nat, dob, sex, expiry, personal string) string {
	pad := func(s string, n int) string { return s + strings.Repeat("<", n-len(s)) }
	num := pad(number, 9)
	l := num + string(icaoRef(num)) + pad(nat, 3) + dob + string(icaoRef(dob)) + sex + expiry + string(icaoRef(expiry))
	pn := pad(personal, 14)
	pc := byte('<')
	if personal != "" {
		pc = icaoRef(pn)
	}
	l += pn + string(pc)
	return l + string(icaoRef(l[0:10]+l[13:20]+l[21:43]))
}

// withICAO appends the 7-3-1 check digit.
func withICAO(s string) string { return s + string(icaoRef(s)) }

// flipLast replaces the last character by a different digit.
func flipLast(s string) string {
	c := s[len(s)-1]
	n := byte('0')
	if c == '0' {
		n = '1'
	}
	return s[:len(s)-1] + string(n)
}

func TestCheckDigitImplementationsAgree(t *testing.T) {
	// Published examples: GB 11643-1999 appendix and python-stdnum.
	for _, s := range []string{"11010519491231002X", "440524188001010014", "360426199101010071", "810000199408230021", "830000199201300022", "911398199012310021"} {
		if got := mod112Check(s[:17]); got != s[17] {
			t.Errorf("mod112Check(%s) = %c, want %c", s[:17], got, s[17])
		}
		if got := gbCheckStdnum(s[:17]); got != s[17] {
			t.Errorf("stdnum-style check(%s) = %c, want %c", s[:17], got, s[17])
		}
		if !gbValidFull(s) {
			t.Errorf("full-string test fails for published example %s", s)
		}
	}
	// Every region/date/sequence from a simple generator: the three agree.
	for i := 0; i < 2000; i++ {
		first := []byte("11010519491231000")
		v := i * 7919
		for k := 16; k >= 0 && v > 0; k-- {
			first[k] = byte('0' + (int(first[k]-'0')+v%10)%10)
			v /= 10
		}
		a, b := mod112Check(string(first)), gbCheckStdnum(string(first))
		if a != b || !gbValidFull(string(first)+string(a)) {
			t.Fatalf("implementations disagree on %s: %c vs %c", first, a, b)
		}
	}
	// ICAO 9303-3 specimen (all five check digits) and CredentialKit's
	// permanent-resident example.
	spec := "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
	fields := []struct{ data, check string }{
		{spec[0:9], spec[9:10]}, {spec[13:19], spec[19:20]}, {spec[21:27], spec[27:28]},
		{spec[28:42], spec[42:43]}, {spec[0:10] + spec[13:20] + spec[21:43], spec[43:44]},
		{"KAZ11009012310", "5"},
	}
	for _, f := range fields {
		got, ok := icaoCheck(f.data)
		if !ok || string(got) != f.check || string(icaoRef(f.data)) != f.check {
			t.Errorf("icaoCheck(%s) = %c (ref %c), want %s", f.data, got, icaoRef(f.data), f.check)
		}
	}
}

type docCase struct {
	name   string
	typ    DocType
	raw    string
	reason string // "" = valid
	masked string // checked when valid and set
}

func docCases() []docCase {
	garbage := strings.Repeat("\xff1a2b3c漢字", 1000) // ~10 kB
	mrzOK := td3("123456789", "GBR", "850101", "M", "300101", "")
	mrzDE := td3("C01X00T47", "D", "640812", "F", "270101", "")
	mrzPersonal := td3("AB1234567", "USA", "991231", "<", "310630", "ZE184226B")
	bad := func(s string, i int, c byte) string { b := []byte(s); b[i] = c; return string(b) }
	return []docCase{
		// cn-id
		{"CNID/OK_StandardExample", DocCNID, "11010519491231002X", "", "1**************02X"},
		{"CNID/OK_LowerCaseX", DocCNID, "11010519491231002x", "", "1**************02X"},
		{"CNID/OK_FullWidth", DocCNID, "１１０１０５１９４９１２３１００２Ｘ", "", "1**************02X"},
		{"CNID/OK_FullWidthLowerX", DocCNID, "１１０１０５１９４９１２３１００２ｘ", "", ""},
		{"CNID/OK_Padded", DocCNID, " \t11010519491231002X\u3000", "", ""},
		{"CNID/OK_Stdnum", DocCNID, "360426199101010071", "", "3**************071"},
		{"CNID/OK_LeapDay2000", DocCNID, withGB("11010520000229123"), "", ""},
		{"CNID/OK_BornToday", DocCNID, withGB("11010520261121123"), "", ""},
		{"CNID/OK_Born1900", DocCNID, withGB("11010519000101123"), "", ""},
		{"CNID/ErrDate_Pre1900StandardExample", DocCNID, "440524188001010014", "date", ""},
		{"CNID/ErrDate_Month13", DocCNID, "360426199113010079", "date", ""},
		{"CNID/ErrDate_Feb30", DocCNID, withGB("11010519900230123"), "date", ""},
		{"CNID/ErrDate_Feb29NonLeap1900", DocCNID, withGB("11010519000229123"), "date", ""},
		{"CNID/ErrDate_Future20991231", DocCNID, withGB("11010520991231123"), "date", ""},
		{"CNID/ErrDate_Tomorrow", DocCNID, withGB("11010520261122123"), "date", ""},
		{"CNID/ErrDate_Day00", DocCNID, withGB("11010519900100123"), "date", ""},
		{"CNID/ErrCheckDigit", DocCNID, "110105194912310021", "check_digit", ""},
		{"CNID/ErrCheckDigit_Transposed", DocCNID, "11010519491231020X", "check_digit", ""},
		{"CNID/ErrLength17", DocCNID, "11010519491231002", "length", ""},
		{"CNID/ErrLength19", DocCNID, "11010519491231002X1", "length", ""},
		{"CNID/ErrChars_LetterInDigits", DocCNID, "1101051949123100AX", "chars", ""},
		{"CNID/ErrChars_XNotLast", DocCNID, "X10105194912310021", "chars", ""},
		{"CNID/ErrChars_InnerSpace", DocCNID, "110105 1949123100X", "chars", ""},
		{"CNID/ErrChars_ChineseNumerals", DocCNID, "一一〇一〇五一九四九一二三一〇〇二X", "chars", ""},
		{"CNID/ErrChars_NonASCII", DocCNID, "11010519491231002Ж", "chars", ""},
		{"CNID/ErrEmpty", DocCNID, "", "empty", ""},
		{"CNID/ErrEmpty_Spaces", DocCNID, "  \u3000 ", "empty", ""},
		{"CNID/ErrTooLong_10kBGarbage", DocCNID, garbage, "too_long", ""},
		{"CNID/ErrTooLong_65Bytes", DocCNID, strings.Repeat("1", 65), "too_long", ""},
		{"CNID/ErrFirstGeneration", DocCNID, "610104620927690", "first_generation", ""},
		{"CNID/ErrRegion_000000", DocCNID, withGB("00000019491231002"), "region", ""},
		{"CNID/ErrRegion_UnknownProvince", DocCNID, withGB("19010519491231002"), "region", ""},
		{"CNID/ErrPrefix_ResidencePermit", DocCNID, "810000199408230021", "prefix", ""},
		{"CNID/ErrPrefix_ForeignPR", DocCNID, "911398199012310021", "prefix", ""},
		// residence permit
		{"Residence/OK_HongKong", DocResidencePermit, "810000199408230021", "", "8**************021"},
		{"Residence/OK_Taiwan", DocResidencePermit, "830000199201300022", "", ""},
		{"Residence/OK_Macao", DocResidencePermit, withGB("82000019800101002"), "", ""},
		{"Residence/ErrPrefix_Mainland", DocResidencePermit, "11010519491231002X", "prefix", ""},
		{"Residence/ErrPrefix_840000", DocResidencePermit, withGB("84000019800101002"), "prefix", ""},
		{"Residence/ErrCheckDigit", DocResidencePermit, flipLast("810000199408230021"), "check_digit", ""},
		{"Residence/ErrDate", DocResidencePermit, withGB("81000019940230002"), "date", ""},
		{"Residence/ErrLength", DocResidencePermit, "81000019940823002", "length", ""},
		// foreign permanent resident
		{"ForeignPR2023/OK_CredentialKit", DocForeignPR, "911398199012310021", "", "9**************021"},
		{"ForeignPR2023/OK_Generated", DocForeignPR, withGB("93182619850704001"), "", ""},
		{"ForeignPR2023/ErrCheckDigit", DocForeignPR, "911398199012310022", "check_digit", ""},
		{"ForeignPR2023/ErrDate", DocForeignPR, "911398199002310021", "date", ""},
		{"ForeignPR2023/ErrRegion", DocForeignPR, "999398199012310021", "region", ""},
		{"ForeignPR2023/ErrPrefix", DocForeignPR, "11010519491231002X", "prefix", ""},
		{"ForeignPR2023/ErrChars", DocForeignPR, "91139819901231002A", "chars", ""},
		{"ForeignPR2017/OK_CredentialKit", DocForeignPR, "KAZ110090123105", "", "K************05"},
		{"ForeignPR2017/OK_LowerCase", DocForeignPR, "kaz110090123105", "", ""},
		{"ForeignPR2017/OK_Generated", DocForeignPR, withICAO("USA31000505011"), "", ""},
		{"ForeignPR2017/ErrCheckDigit", DocForeignPR, "KAZ110090123107", "check_digit", ""},
		{"ForeignPR2017/ErrDate", DocForeignPR, "KAZ110090023105", "date", ""},
		{"ForeignPR2017/ErrRegion", DocForeignPR, "KAZ990090123105", "region", ""},
		{"ForeignPR2017/ErrChars_DigitInNationality", DocForeignPR, "KA1110090123105", "chars", ""},
		{"ForeignPR2017/ErrChars_LetterInDigits", DocForeignPR, "KAZ11009012310A", "chars", ""},
		{"ForeignPR/ErrLength16", DocForeignPR, "KAZ1100901231051", "length", ""},
		// HK/Macao permit
		{"HKMO/OK_H8", DocHKMOPermit, "H12345678", "", "H******78"},
		{"HKMO/OK_M10", DocHKMOPermit, "M1234567801", "", "M********01"},
		{"HKMO/OK_LowerCase", DocHKMOPermit, "h12345678", "", ""},
		{"HKMO/ErrChars_WrongLetter", DocHKMOPermit, "X12345678", "chars", ""},
		{"HKMO/ErrChars_LetterInDigits", DocHKMOPermit, "H1234567A", "chars", ""},
		{"HKMO/ErrLength", DocHKMOPermit, "H1234567", "length", ""},
		{"HKMO/ErrLength10", DocHKMOPermit, "H123456789", "length", ""},
		// Taiwan permit
		{"TW/OK_8", DocTWPermit, "12345678", "", "1*****78"},
		{"TW/OK_10", DocTWPermit, "1234567801", "", "1*******01"},
		{"TW/ErrLength", DocTWPermit, "1234567", "length", ""},
		{"TW/ErrChars", DocTWPermit, "1234567A", "chars", ""},
		// passport
		{"Passport/OK_Space", DocPassport, "GBR 123456789", "", "GBR 1******89"},
		{"Passport/OK_Colon", DocPassport, "GBR:123456789", "", "GBR 1******89"},
		{"Passport/OK_LowerCase", DocPassport, "gbr e1234567", "", "GBR E*****67"},
		{"Passport/OK_Short", DocPassport, "UTO AB1", "", "UTO A**"},
		{"Passport/OK_ICAOSpecimenMRZ", DocPassport, "L898902C36UTO7408122F1204159ZE184226B<<<<<10", "", "UTO L******C3"},
		{"Passport/OK_GeneratedMRZ", DocPassport, mrzOK, "", "GBR 1******89"},
		{"Passport/OK_GermanyD", DocPassport, mrzDE, "", "DEU C******47"},
		{"Passport/OK_PersonalNumber", DocPassport, mrzPersonal, "", ""},
		{"Passport/ErrMRZ_NumberCheck", DocPassport, bad(mrzOK, 9, '0'+(mrzOK[9]-'0'+1)%10), "mrz_check", ""},
		{"Passport/ErrMRZ_BirthCheck", DocPassport, bad(mrzOK, 19, '0'+(mrzOK[19]-'0'+1)%10), "mrz_check", ""},
		{"Passport/ErrMRZ_ExpiryCheck", DocPassport, bad(mrzOK, 27, '0'+(mrzOK[27]-'0'+1)%10), "mrz_check", ""},
		{"Passport/ErrMRZ_PersonalCheck", DocPassport, bad(mrzPersonal, 42, '0'+(mrzPersonal[42]-'0'+1)%10), "mrz_check", ""},
		{"Passport/ErrMRZ_Composite", DocPassport, bad(mrzOK, 43, '0'+(mrzOK[43]-'0'+1)%10), "mrz_check", ""},
		{"Passport/ErrMRZ_NumberTypo", DocPassport, bad(mrzOK, 3, '9'), "mrz_check", ""},
		{"Passport/ErrMRZ_BadChars", DocPassport, bad(mrzOK, 30, '-'), "chars", ""},
		{"Passport/ErrDate_MRZFeb30", DocPassport, td3("123456789", "GBR", "850230", "M", "300101", ""), "date", ""},
		{"Passport/ErrLength_Number10", DocPassport, "GBR 1234567890", "length", ""},
		{"Passport/ErrChars_Nationality2", DocPassport, "GB 1234567", "chars", ""},
		{"Passport/ErrChars_NoNationality", DocPassport, "123456789", "chars", ""},
		{"Passport/ErrChars_NumberPunct", DocPassport, "GBR 1234-567", "chars", ""},
		{"Passport/ErrEmpty_NumberMissing", DocPassport, "GBR:", "empty", ""},
		{"Passport/ErrTooLong", DocPassport, garbage, "too_long", ""},
		// unknown type
		{"Type/ErrUnknown", DocType("driving-licence"), "11010519491231002X", "type", ""},
	}
}

func TestParseDoc(t *testing.T) {
	for _, c := range docCases() {
		t.Run(c.name, func(t *testing.T) {
			d, err := ParseDocAt(c.typ, c.raw, refNow)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("want valid, got %v (reason %s)", err, ErrorReason(err))
				}
				if d.Type() != c.typ || d.IsZero() {
					t.Fatalf("type %q zero %v", d.Type(), d.IsZero())
				}
				if c.masked != "" && d.Masked() != c.masked {
					t.Errorf("Masked = %q, want %q", d.Masked(), c.masked)
				}
				// re-parses to the same value
				again := d.Reveal()
				if d.Type() == DocPassport {
					again = d.Nationality() + ":" + again
				}
				d2, err := ParseDocAt(c.typ, again, refNow)
				if err != nil || !d2.Equal(d) {
					t.Errorf("re-parse of Reveal: %v equal=%v", err, d2.Equal(d))
				}
				return
			}
			if err == nil {
				t.Fatalf("want reason %q, got valid %s", c.reason, d.Masked())
			}
			if !d.IsZero() {
				t.Errorf("non-zero DocNumber returned with an error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, want *app.Error", err)
			}
			if e.Code != CodeInvalid || e.Reason != c.reason {
				t.Errorf("code/reason = %s/%s, want invalid/%s (%s)", e.Code, e.Reason, c.reason, e.EN)
			}
			if e.ZH == "" || e.EN == "" {
				t.Errorf("missing message: zh=%q en=%q", e.ZH, e.EN)
			}
			assertNoEcho(t, c.raw, e.ZH, e.EN, e.Error())
		})
	}
}

// assertNoEcho fails if any message contains the input, or (for inputs
// with an 8-digit or longer run) that run.
func assertNoEcho(t *testing.T, raw string, msgs ...string) {
	t.Helper()
	n, _ := normalizeDoc(raw)
	probes := []string{strings.TrimSpace(raw), n}
	run := ""
	for _, r := range n + " " {
		if r >= '0' && r <= '9' {
			run += string(r)
			continue
		}
		if len(run) >= 8 {
			probes = append(probes, run)
		}
		run = ""
	}
	for _, m := range msgs {
		for _, p := range probes {
			if len(p) >= 6 && strings.Contains(m, p) {
				t.Errorf("message %q echoes the input", m)
			}
		}
	}
}

func TestParseDocBirthDateAndNationality(t *testing.T) {
	tests := []struct {
		name, raw string
		typ       DocType
		birth     string // "" = none
		nat       string
		form      string
	}{
		{"CNID", "11010519491231002X", DocCNID, "1949-12-31", "CHN", ""},
		{"ResidencePermit", "810000199408230021", DocResidencePermit, "1994-08-23", "CHN", ""},
		{"ForeignPR2023_KAZ", "911398199012310021", DocForeignPR, "1990-12-31", "KAZ", "2023"},
		{"ForeignPR2023_UnlistedNumeric", withGB("91199919900101001"), DocForeignPR, "1990-01-01", "", "2023"},
		{"ForeignPR2017_KAZ", "KAZ110090123105", DocForeignPR, "1990-12-31", "KAZ", "2017"},
		{"ForeignPR2017_Century2000s", withICAO("USA31001505011"), DocForeignPR, "2015-05-01", "USA", "2017"},
		{"HKMO_NoBirth", "H12345678", DocHKMOPermit, "", "CHN", ""},
		{"TW_NoBirth", "12345678", DocTWPermit, "", "CHN", ""},
		{"Passport_NoMRZ_NoBirth", "FRA 12AB34567", DocPassport, "", "FRA", ""},
		{"Passport_MRZ_Birth", "L898902C36UTO7408122F1204159ZE184226B<<<<<10", DocPassport, "1974-08-12", "UTO", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDocAt(tc.typ, tc.raw, refNow)
			if err != nil {
				t.Fatal(err)
			}
			b, ok := d.BirthDate()
			got := ""
			if ok {
				got = b.Format("2006-01-02")
			}
			if got != tc.birth {
				t.Errorf("BirthDate = %q, want %q", got, tc.birth)
			}
			if d.Nationality() != tc.nat {
				t.Errorf("Nationality = %q, want %q", d.Nationality(), tc.nat)
			}
			if d.Form() != tc.form {
				t.Errorf("Form = %q, want %q", d.Form(), tc.form)
			}
		})
	}
}

func TestDetectDoc(t *testing.T) {
	tests := []struct {
		name, raw string
		want      DocType
		reason    string
	}{
		{"CNID", "11010519491231002X", DocCNID, ""},
		{"ResidencePermit_HK", "810000199408230021", DocResidencePermit, ""},
		{"ResidencePermit_TW", "830000199201300022", DocResidencePermit, ""},
		{"ForeignPR2023", "911398199012310021", DocForeignPR, ""},
		{"ForeignPR2017", "KAZ110090123105", DocForeignPR, ""},
		{"HKMO", "H12345678", DocHKMOPermit, ""},
		{"HKMO11", "M1234567801", DocHKMOPermit, ""},
		{"TW", "12345678", DocTWPermit, ""},
		{"TW10", "1234567801", DocTWPermit, ""},
		{"PassportMRZ", "L898902C36UTO7408122F1204159ZE184226B<<<<<10", DocPassport, ""},
		{"PassportNatNumber", "GBR 123456789", DocPassport, ""},
		{"PassportColon", "usa:A1234567", DocPassport, ""},
		{"ErrFirstGeneration", "610104620927690", "", "first_generation"},
		{"ErrCNIDCheckDigit", "110105194912310021", "", "check_digit"},
		{"ErrResidenceCheckDigit", flipLast("810000199408230021"), "", "check_digit"},
		{"ErrForeign2017CheckDigit", "KAZ110090123107", "", "check_digit"},
		{"ErrCNIDDate", withGB("11010520991231123"), "", "date"},
		{"ErrUnknown_BarePassportNumber", "E12345678A", "", "unknown_type"},
		{"ErrUnknown_7Digits", "1234567", "", "unknown_type"},
		{"ErrEmpty", " ", "", "empty"},
		{"ErrTooLong", strings.Repeat("9", 10240), "", "too_long"},
		{"ErrNonASCII", "身份证号码", "", "chars"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := DetectDocAt(tc.raw, refNow)
			if tc.reason != "" {
				if err == nil || ErrorReason(err) != tc.reason || ErrorCode(err) != CodeInvalid {
					t.Fatalf("want invalid/%s, got %v (%s)", tc.reason, err, ErrorReason(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("want %s, got %v", tc.want, err)
			}
			if d.Type() != tc.want {
				t.Errorf("type %s, want %s", d.Type(), tc.want)
			}
		})
	}
}

func TestParsePassport(t *testing.T) {
	spec := "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
	tests := []struct {
		name, nat, num, mrz, reason string
	}{
		{"OK_NoMRZ", "GBR", "123456789", "", ""},
		{"OK_OneChar", "GBR", "7", "", ""},
		{"OK_Specimen", "UTO", "L898902C3", spec, ""},
		{"OK_SpecimenLowerCase", "uto", "l898902c3", strings.ToLower(spec), ""},
		{"OK_GermanyDEUvsD", "DEU", "C01X00T47", td3("C01X00T47", "D", "640812", "F", "270101", ""), ""},
		{"ErrMRZ_NumberMismatch", "UTO", "L898902C4", spec, "mrz_check"},
		{"ErrMRZ_NationalityMismatch", "GBR", "L898902C3", spec, "mrz_check"},
		{"ErrMRZ_Length43", "UTO", "L898902C3", spec[:43], "length"},
		{"ErrNationality_Digits", "G8R", "123", "", "chars"},
		{"ErrNationality_Empty", "", "123", "", "empty"},
		{"ErrNumber_Empty", "GBR", " ", "", "empty"},
		{"ErrNumber_TooLong", "GBR", "1234567890", "", "length"},
		{"ErrNumber_Chars", "GBR", "12 34", "", "chars"},
		{"ErrNumber_Huge", "GBR", strings.Repeat("A", 10000), "", "too_long"},
		{"ErrMRZ_Huge", "GBR", "A", strings.Repeat("<", 10000), "too_long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParsePassportAt(tc.nat, tc.num, tc.mrz, refNow)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				if d.Type() != DocPassport {
					t.Fatalf("type %s", d.Type())
				}
				return
			}
			if ErrorReason(err) != tc.reason || ErrorCode(err) != CodeInvalid {
				t.Fatalf("want invalid/%s, got %v (%s)", tc.reason, err, ErrorReason(err))
			}
		})
	}
}

func TestParseDocType(t *testing.T) {
	for _, dt := range DocTypes {
		got, err := ParseDocType(" " + strings.ToUpper(string(dt)) + " ")
		if err != nil || got != dt {
			t.Errorf("ParseDocType(%s) = %s, %v", dt, got, err)
		}
		if dt.Label(LangZH) == dt.Label(LangEN) || dt.Label(LangZH) == string(dt) {
			t.Errorf("%s has no distinct labels", dt)
		}
	}
	if DocCNID.Label(LangZH) != "居民身份证" || DocCNID.Label(LangEN) != "Resident ID card" {
		t.Errorf("cn-id labels %q %q", DocCNID.Label(LangZH), DocCNID.Label(LangEN))
	}
	for _, bad := range []string{"", "auto", "id", strings.Repeat("x", 100)} {
		if _, err := ParseDocType(bad); ErrorReason(err) != "type" {
			t.Errorf("ParseDocType(%q) err = %v", bad, err)
		}
	}
}

func TestMaskDocNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"11010519491231002X", "1**************02X"},
		{"KAZ110090123105", "K************05"},
		{"M1234567801", "M********01"},
		{"H12345678", "H******78"},
		{"12345678", "1*****78"},
		{"A1234", "A**34"},
		{"ABCD", "A***"},
		{"ABC", "A**"},
		{"AB", "**"},
		{"A", "*"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := maskDocNumber(tc.in); got != tc.want {
			t.Errorf("maskDocNumber(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if (DocNumber{}).Masked() != "" || (DocNumber{}).String() != "" {
		t.Error("zero DocNumber should mask to empty")
	}
}

func TestDocNumberEqual(t *testing.T) {
	a, _ := ParseDocAt(DocCNID, "11010519491231002X", refNow)
	b, _ := ParseDocAt(DocCNID, "１１０１０５１９４９１２３１００２ｘ", refNow)
	c, _ := ParseDocAt(DocCNID, "360426199101010071", refNow)
	p1, _ := ParseDocAt(DocPassport, "GBR 123456789", refNow)
	p2, _ := ParseDocAt(DocPassport, "USA 123456789", refNow)
	switch {
	case !a.Equal(b):
		t.Error("same number after normalisation should be Equal")
	case a.Equal(c):
		t.Error("different numbers Equal")
	case p1.Equal(p2):
		t.Error("same passport number from different states Equal")
	case !(DocNumber{}).Equal(DocNumber{}) || a.Equal(DocNumber{}):
		t.Error("zero comparisons wrong")
	}
}
