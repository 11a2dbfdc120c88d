package demo

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
)

func TestRidersPassCheckAtRefTime(t *testing.T) {
	for _, r := range Riders() {
		t.Run(r.Key, func(t *testing.T) {
			id := r.Identity
			if err := id.Check(RefTime); err != nil {
				t.Fatalf("Check at RefTime: %v", err)
			}
			if id.ValidFrom.IsZero() || id.ValidFrom.After(RefTime) {
				t.Errorf("ValidFrom %v is not before RefTime", id.ValidFrom)
			}
			if !id.LongTerm && !id.ValidTo.After(RefTime) {
				t.Errorf("ValidTo %v not after RefTime", id.ValidTo)
			}
			if id.LongTerm != id.ValidTo.IsZero() {
				t.Errorf("LongTerm %v with ValidTo %v", id.LongTerm, id.ValidTo)
			}
			if id.Name.IsZero() || id.Birth.IsZero() || id.Source == "" {
				t.Error("name, birth or source missing")
			}
			// The number re-validates from its revealed form (no reliance
			// on the parse in riders()).
			raw := id.Doc.Reveal()
			if id.Doc.Type() == app.DocPassport {
				raw = id.Doc.Nationality() + " " + raw
			}
			if _, err := app.ParseDocAt(id.Doc.Type(), raw, RefTime); err != nil {
				t.Errorf("document no longer valid: %v", err)
			}
			// The number carries a birth date for every demo document
			// (the passport through its MRZ); Check compared it above.
			if _, ok := id.Doc.BirthDate(); !ok {
				t.Errorf("%s number carries no birth date", id.Doc.Type())
			}
			// Sex digit agrees with Gender (odd = male): position 17 of an
			// 18-character number, position 14 of a 2017 PR number.
			num := id.Doc.Reveal()
			var sexDigit byte
			switch {
			case len(num) == 18:
				sexDigit = num[16]
			case id.Doc.Form() == "2017":
				sexDigit = num[13]
			}
			if sexDigit != 0 {
				male := (sexDigit-'0')%2 == 1
				if male != (id.Gender == app.GenderMale) {
					t.Errorf("sex digit %c disagrees with gender %v", sexDigit, id.Gender)
				}
			}
			if id.Nation != "" {
				if _, ok := app.NationName(id.Nation, app.LangZH); !ok {
					t.Errorf("unknown nation code %q", id.Nation)
				}
			}
			if r.Note == "" || r.NoteZH == "" {
				t.Error("note missing")
			}
			if r.Phone != "" && !regexp.MustCompile(`^1\d\d\*{4}\d{4}$`).MatchString(r.Phone) {
				t.Errorf("phone %q is not a masked mobile number", r.Phone)
			}
		})
	}
}

func TestRidersCoverTheCases(t *testing.T) {
	byKey := map[string]Rider{}
	docTypes := map[string]bool{}
	for _, r := range Riders() {
		if _, dup := byKey[r.Key]; dup || r.Key == "" {
			t.Errorf("duplicate or empty key %q", r.Key)
		}
		byKey[r.Key] = r
		docTypes[string(r.Identity.Doc.Type())+r.Identity.Doc.Form()] = true
	}
	for _, want := range []string{"cn-id", "residence-permit", "foreign-pr2023", "foreign-pr2017", "passport"} {
		if !docTypes[want] {
			t.Errorf("no rider with document %s", want)
		}
	}
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC) // any time: health is relative
	win := app.DefaultPolicy().NATWindow
	tests := []struct {
		key     string
		color   app.HealthColor
		testOK  bool
		prefix  string
		checkFn func(Rider) error
	}{
		{"green-fresh", app.ColorGreen, true, "110", func(r Rider) error {
			forms := map[app.CardForm]bool{}
			for _, c := range r.Cards {
				forms[c.Form] = true
			}
			if !forms[app.FormPhysical] || !forms[app.FormNFC] {
				return fmt.Errorf("want a physical and an NFC card, got %v", forms)
			}
			return nil
		}},
		{"green-72h", app.ColorGreen, false, "110", nil},
		{"yellow", app.ColorYellow, true, "", nil},
		{"red", app.ColorRed, true, "", nil},
		{"visitor-shanghai", app.ColorNone, false, "310", nil},
		{"elder-special", app.ColorGreen, true, "", func(r Rider) error {
			kinds := map[app.CardKind]bool{}
			for _, c := range r.Cards {
				kinds[c.Kind] = true
			}
			if r.Identity.Birth.Year() != 1946 || !kinds[app.CardSpecialElder] || !kinds[app.CardOrdinary] {
				return fmt.Errorf("want born 1946 with special and ordinary cards")
			}
			return nil
		}},
		{"student", app.ColorGreen, true, "", func(r Rider) error {
			if len(r.Cards) == 0 || r.Cards[0].Kind != app.CardStudent {
				return fmt.Errorf("no student card")
			}
			return nil
		}},
		{"passport-gbr", app.ColorGreen, true, "", func(r Rider) error {
			if r.Identity.Doc.Type() != app.DocPassport || r.Identity.Doc.Nationality() != "GBR" {
				return fmt.Errorf("not a British passport")
			}
			return nil
		}},
		{"hk-resident", app.ColorGreen, true, "810000", func(r Rider) error {
			_, err := app.ParseDocAt(app.DocHKMOPermit, r.Identity.PermitNumber, RefTime)
			return err
		}},
		{"tw-resident", app.ColorGreen, true, "830000", func(r Rider) error {
			_, err := app.ParseDocAt(app.DocTWPermit, r.Identity.PermitNumber, RefTime)
			return err
		}},
		{"foreigner-2023", app.ColorGreen, true, "9", nil},
		{"foreigner-2017", app.ColorGreen, true, "", nil},
		{"helper-proxy", app.ColorGreen, true, "", func(r Rider) error {
			if r.ProxyUsed != 4 || r.ProxyUsed >= app.DefaultPolicy().ProxyLimit {
				return fmt.Errorf("ProxyUsed %d", r.ProxyUsed)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			r, ok := RiderByKey(tc.key)
			if !ok {
				t.Fatal("missing")
			}
			h := r.HealthAt(now)
			if h.Color != tc.color {
				t.Errorf("color %s, want %s", h.Color, tc.color)
			}
			if got := h.TestWithin(win, now); got != tc.testOK {
				t.Errorf("test within %v = %v, want %v", win, got, tc.testOK)
			}
			if h.AsOf.After(now) {
				t.Error("status from the future")
			}
			if !strings.HasPrefix(r.Identity.Doc.Reveal(), tc.prefix) {
				t.Errorf("number does not start with %q", tc.prefix)
			}
			if tc.checkFn != nil {
				if err := tc.checkFn(r); err != nil {
					t.Error(err)
				}
			}
		})
	}
	if len(byKey) != len(tests) {
		t.Errorf("%d riders, %d cases tested", len(byKey), len(tests))
	}
	if _, ok := RiderByKey("nobody"); ok {
		t.Error("unknown key found")
	}
}

func TestHealthAt(t *testing.T) {
	r, _ := RiderByKey("green-fresh")
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	h := r.HealthAt(now)
	if got := now.Sub(h.LastNegative); got != 6*time.Hour {
		t.Errorf("test age %v", got)
	}
	if got := now.Sub(h.AsOf); got != r.HealthAge {
		t.Errorf("status age %v", got)
	}
	v, _ := RiderByKey("visitor-shanghai")
	if !v.HealthAt(now).LastNegative.IsZero() {
		t.Error("visitor should have no test on record")
	}
}

func TestCards(t *testing.T) {
	cards := Cards()
	seen := map[string]bool{}
	kinds := map[app.CardKind]int{}
	beijing := regexp.MustCompile(`^1000\d{6}$`)
	for _, c := range cards {
		if seen[c.Number] || c.Number == "" {
			t.Errorf("duplicate or empty card number (masked %s)", c.MaskedNumber())
		}
		seen[c.Number] = true
		kinds[c.Kind]++
		if c.Form == "" {
			t.Errorf("card %s has no form", c.MaskedNumber())
		}
		switch c.Kind {
		case app.CardOrdinary, app.CardStudent, app.CardSpecialElder, app.CardCivilAffairs, app.CardCommemorative:
			if !beijing.MatchString(c.Number) {
				t.Errorf("Beijing card %s not 10 digits starting 1000", c.MaskedNumber())
			}
		case app.CardUnion:
			if len(c.Number) != 19 || !strings.HasPrefix(c.Number, "3104") || c.City != "上海" {
				t.Errorf("union card %s wrong", c.MaskedNumber())
			}
		}
		if _, _, ok := CardNote(c.Number); !ok {
			t.Errorf("card %s has no note", c.MaskedNumber())
		}
	}
	for _, k := range []app.CardKind{app.CardOrdinary, app.CardStudent, app.CardSpecialElder, app.CardCivilAffairs,
		app.CardCommemorative, app.CardUnion, app.CardUnionPay, app.CardDCEPWearable, app.CardSingleJourney} {
		if kinds[k] == 0 {
			t.Errorf("no demo card of kind %s", k)
		}
	}
	for _, n := range []string{WornCardNumber, BlankTokenNumber, UnionPayNumber, DCEPNumber, ShanghaiNumber, CommemorativeNo, CivilAffairsNo} {
		if !seen[n] {
			t.Errorf("named card %s not in Cards()", n)
		}
	}
	// Bound numbers are cards the rider carries, upgradeable, at most one per form.
	for _, r := range Riders() {
		forms := map[app.CardForm]int{}
		for _, b := range r.Bound {
			found := false
			for _, c := range r.Cards {
				if c.Number == b {
					found = true
					forms[c.Form]++
					if !c.Kind.Upgradeable() || c.Kind.Special() {
						t.Errorf("%s: bound card of kind %s", r.Key, c.Kind)
					}
				}
			}
			if !found {
				t.Errorf("%s: bound number not among its cards", r.Key)
			}
		}
		for f, n := range forms {
			if n > 1 {
				t.Errorf("%s: %d bound %s cards", r.Key, n, f)
			}
		}
	}
	if _, _, ok := CardNote("0"); ok {
		t.Error("note for unknown card")
	}
}

func TestFreshCopies(t *testing.T) {
	a := Riders()
	a[0].Cards[0].Number = "changed"
	a[0].Identity.Photo[0] ^= 0xff
	a[0].Key = "changed"
	b := Riders()
	if b[0].Key == "changed" || b[0].Cards[0].Number == "changed" || b[0].Identity.Photo[0] == a[0].Identity.Photo[0] {
		t.Error("Riders shares state between calls")
	}
	c := Cards()
	c[0].Number = "changed"
	if Cards()[0].Number == "changed" {
		t.Error("Cards shares state between calls")
	}
}

func TestRiderRedacts(t *testing.T) {
	for _, r := range Riders() {
		out := fmt.Sprintf("%v %+v", r, r)
		if strings.Contains(out, r.Identity.Doc.Reveal()) || strings.Contains(out, r.Identity.Name.Reveal()) {
			t.Errorf("%s: printing a Rider shows the number or name", r.Key)
		}
	}
}
