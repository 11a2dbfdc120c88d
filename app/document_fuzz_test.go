package app

import (
	"errors"
	"strings"
	"testing"
)

func docSeeds() []string {
	seeds := []string{
		"11010519491231002X", "11010519491231002x", "440524188001010014", "360426199101010071",
		"360426199113010079", "610104620927690", "810000199408230021", "830000199201300022",
		"911398199012310021", "KAZ110090123105", "KAZ110090123107", "H12345678", "M1234567801",
		"12345678", "1234567801", "GBR 123456789", "GBR:123456789", "D C01X00T47",
		"L898902C36UTO7408122F1204159ZE184226B<<<<<10", "１１０１０５１９４９１２３１００２ｘ",
		"", " ", "\u3000", "\xff\xfe", "身份证", strings.Repeat("9", 65), strings.Repeat("<", 44),
		"GBR ", ":", "A:B", "11010519491231002X\x00",
	}
	return seeds
}

// checkDocResult is the shared oracle of the document fuzz targets.
func checkDocResult(t *testing.T, typ DocType, raw string, d DocNumber, err error) {
	checkDocResultLen(t, typ, raw, true, d, err)
}

// checkDocResultLen: strictLen says raw is the single input, so its
// length decides "too_long".
func checkDocResultLen(t *testing.T, typ DocType, raw string, strictLen bool, d DocNumber, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeInvalid || e.Reason == "" || e.ZH == "" || e.EN == "" {
			t.Fatalf("error is not a complete invalid *Error: %#v", err)
		}
		if !d.IsZero() {
			t.Fatal("DocNumber returned with an error")
		}
		if n, nerr := normalizeDoc(raw); nerr == nil && len(n) >= 10 {
			for _, m := range []string{e.ZH, e.EN} {
				if strings.Contains(m, n) {
					t.Fatalf("message echoes the input: %q", m)
				}
			}
		}
		if strictLen && len(raw) > MaxDocInput && e.Reason != "too_long" {
			t.Fatalf("input of %d bytes gave reason %q, want too_long", len(raw), e.Reason)
		}
		return
	}
	if d.IsZero() || (typ != "" && d.Type() != typ) {
		t.Fatalf("valid result has type %q (want %q)", d.Type(), typ)
	}
	num := d.Reveal()
	if num == "" || len(num) > 18 || (strictLen && len(raw) > MaxDocInput) {
		t.Fatalf("implausible number of %d chars from %d bytes", len(num), len(raw))
	}
	// Valid numbers re-parse to the same value.
	again := num
	if d.Type() == DocPassport {
		again = d.Nationality() + ":" + num
	}
	d2, err := ParseDocAt(d.Type(), again, refNow)
	if err != nil || !d2.Equal(d) {
		t.Fatalf("re-parse failed: %v", err)
	}
	// Masked never shows the middle: same length, '*' everywhere except
	// the kept first 1 and last 3 (18 chars) or last 2 (shorter).
	m := d.Masked()
	if d.Type() == DocPassport {
		m = strings.TrimPrefix(m, d.Nationality()+" ")
	}
	if len(m) != len(num) {
		t.Fatalf("masked length %d != %d", len(m), len(num))
	}
	keepHead, keepTail := 1, 2
	switch {
	case len(num) >= 18:
		keepTail = 3
	case len(num) <= 2:
		keepHead, keepTail = 0, 0
	case len(num) <= 4:
		keepTail = 0
	}
	for i := keepHead; i < len(m)-keepTail; i++ {
		if m[i] != '*' {
			t.Fatalf("masked %q shows position %d", m, i)
		}
	}
	if d.String() != d.Masked() || !strings.Contains(d.GoString(), d.Masked()) {
		t.Fatalf("String %q / GoString %q do not give the masked form", d.String(), d.GoString())
	}
}

func FuzzParseDoc(f *testing.F) {
	for i, s := range docSeeds() {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, raw string) {
		typ := DocTypes[int(which)%len(DocTypes)]
		d, err := ParseDocAt(typ, raw, refNow)
		checkDocResult(t, typ, raw, d, err)
	})
}

func FuzzDetectDoc(f *testing.F) {
	for _, s := range docSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		d, err := DetectDocAt(raw, refNow)
		checkDocResult(t, "", raw, d, err)
		if err == nil {
			// Detection agrees with parsing as the detected type.
			d2, err := ParseDocAt(d.Type(), raw, refNow)
			if err != nil || !d2.Equal(d) {
				t.Fatalf("ParseDoc(%s) disagrees with DetectDoc: %v", d.Type(), err)
			}
		}
	})
}

func FuzzParsePassport(f *testing.F) {
	f.Add("UTO", "L898902C3", "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
	f.Add("GBR", "123456789", "")
	f.Add("D", "C01X00T47", "")
	f.Add("", "", "<")
	f.Fuzz(func(t *testing.T, nat, num, mrz string) {
		d, err := ParsePassportAt(nat, num, mrz, refNow)
		checkDocResultLen(t, DocPassport, num, false, d, err)
		if err == nil && (len(nat) > MaxDocInput || len(num) > MaxDocInput || len(mrz) > MaxDocInput) {
			t.Fatal("an over-long argument was accepted")
		}
	})
}
