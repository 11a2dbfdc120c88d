package app

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestParseCardNumber(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"OK10Digits", "1000200012", "1000200012", true},
		{"OKSpacesDashes", " 1000-2000 12 ", "1000200012", true},
		{"OKFullWidth", "１０００２０００１２", "1000200012", true},
		{"OKHexLower", "a1b2c3d4e5f60718", "A1B2C3D4E5F60718", true},
		{"OK19DigitUnion", "3104290000000000017", "3104290000000000017", true},
		{"ErrTooShort", "1234567", "", false},
		{"ErrTooLong", strings.Repeat("1", 21), "", false},
		{"ErrLetter", "10002000G2", "", false},
		{"ErrEmpty", "", "", false},
		{"ErrHuge", strings.Repeat("1 ", 1000), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCardNumber(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseCardNumber(%q) = %q, %v", tc.in, got, err)
			}
			if err != nil && (ErrorCode(err) != CodeInvalid || ErrorReason(err) != "invalid_card_number" || strings.Contains(err.Error(), tc.in) && tc.in != "") {
				t.Fatalf("error %v", err)
			}
		})
	}
}

func FuzzParseCardNumber(f *testing.F) {
	for _, s := range []string{"1000200012", " 1000-2000 12", "１０００２０００１２", "a1b2c3d4", "", "\xff\xfe", strings.Repeat("9", 25)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCardNumber(s)
		if err != nil {
			return
		}
		if len(got) < MinCardNumber || len(got) > MaxCardNumber {
			t.Fatalf("length %d", len(got))
		}
		if again, err := ParseCardNumber(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q %v", got, again, err)
		}
	})
}

func TestExplainEveryKind(t *testing.T) {
	kinds := []CardKind{CardOrdinary, CardStudent, CardSpecialElder, CardCivilAffairs, CardDisability, CardCommemorative, CardUnion,
		CardUnionPay, CardDCEPWearable, CardAirRail, CardAlipayTicket, CardSingleJourney, CardUnknown, ""}
	for _, k := range kinds {
		t.Run(string(k)+"_", func(t *testing.T) {
			e := Explain(Card{Kind: k})
			if e.ZH == "" || e.EN == "" {
				t.Fatal("no message")
			}
			wantUp := k.Upgradeable() && !k.Special() || k == CardUnknown || k == ""
			if e.Upgradeable != wantUp {
				t.Fatalf("upgradeable %v, want %v", e.Upgradeable, wantUp)
			}
			if !e.Upgradeable && (e.NextZH == "" || e.NextEN == "") {
				t.Fatal("refusal without an alternative")
			}
		})
	}
	if e := Explain(Card{Kind: CardUnionPay}); !strings.Contains(e.NextEN, "ride-QR") || !strings.Contains(e.NextZH, "一卡通") {
		t.Fatalf("UnionPay alternative: %q", e.NextEN)
	}
	for _, r := range []CentralCode{CentralLimitReached, CentralNotUpgradeable, CentralBoundToOther, CentralProxyLimitReached, CentralSpecialCardAuto,
		CentralCodeMismatch, CentralCodeUnavailable, CentralInvalidDocument, CentralInvalidCardNumber, CentralNotFound, CentralOffline, CentralConflict, "whatever"} {
		if e := ExplainReason(string(r)); e.ZH == "" || e.EN == "" || e.NextZH == "" || e.NextEN == "" {
			t.Errorf("%s: incomplete explanation", r)
		}
	}
}

func TestBindRequestRedacts(t *testing.T) {
	holder, err := ParseDoc(DocCNID, "11010519491231002X")
	if err != nil {
		t.Fatal(err)
	}
	r := BindRequest{CardNumber: "1000200012", Holder: holder, Helper: holder, Code: "123456"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "req", r)
	for _, s := range []string{fmt.Sprint(r), fmt.Sprintf("%+v %#v %s %q", r, r, r, r), buf.String(), fmt.Sprint(UnbindRequest{CardNumber: "1000200012", Holder: holder})} {
		if strings.Contains(s, "11010519491231002X") || strings.Contains(s, "123456") || strings.Contains(s, "1000200012") {
			t.Fatalf("leak: %s", s)
		}
	}
	if GroupCardNumber("1000200012") != "1000 2000 12" {
		t.Fatal(GroupCardNumber("1000200012"))
	}
}
