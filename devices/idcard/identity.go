package idcard

import (
	"strconv"
	"time"

	"stationdesk/app"
)

// docType maps a card kind to the app document type.
func docType(k Kind) (app.DocType, bool) {
	switch k {
	case KindResident:
		return app.DocCNID, true
	case KindPermit:
		return app.DocResidencePermit, true
	case KindForeign2017, KindForeign2023:
		return app.DocForeignPR, true
	}
	return "", false
}

// Identity turns a decoded text block and the photo into an app.Identity,
// validated with the app rules at now:
//
//   - the number goes through app.ParseDocAt for the card's document type;
//     its *app.Error (CodeInvalid, reasons "check_digit", "date", "region",
//     "length", …) is returned as is, so a card with a bad number is never
//     accepted;
//   - sex, nation (resident cards), dates and "长期" are decoded here; a
//     malformed one is CodeInvalid with reason "card_data";
//   - finally Identity.Check (birth date against the number, expiry): its
//     error is returned with no identity.
//
// The photo slice is kept by reference (not copied, not decoded).
func (t Text) Identity(now time.Time, photo []byte) (app.Identity, error) {
	dt, ok := docType(t.Kind)
	if !ok {
		return app.Identity{}, errUnsupportedDoc
	}
	doc, err := app.ParseDocAt(dt, t.Number, now)
	if err != nil {
		return app.Identity{}, err
	}
	id := app.Identity{Doc: doc, Source: app.SourceReader, Photo: app.Photo(photo)}
	if id.Gender, err = app.ParseGender(t.Gender); err != nil {
		return app.Identity{}, errCardData
	}
	if id.Birth, ok = date(t.Birth); !ok {
		return app.Identity{}, errCardData
	}
	if id.ValidFrom, ok = date(t.ValidFrom); !ok {
		return app.Identity{}, errCardData
	}
	if t.ValidTo == LongTerm {
		id.LongTerm = true
	} else if id.ValidTo, ok = date(t.ValidTo); !ok {
		return app.Identity{}, errCardData
	}
	switch t.Kind {
	case KindResident:
		if _, ok := app.NationName(t.Nation, app.LangZH); !ok {
			return app.Identity{}, errCardData
		}
		id.Nation = t.Nation
		fallthrough
	case KindPermit:
		id.Name = app.NewName(t.Name)
		id.Address = app.Sensitive(t.Address)
		id.Authority = t.Authority
		if t.Kind == KindPermit {
			id.PermitNumber = t.PermitNumber
			if id.IssueCount, ok = count(t.IssueCount); !ok {
				return app.Identity{}, errCardData
			}
		}
	case KindForeign2017, KindForeign2023:
		// The name as printed first: the Chinese name when the card has
		// one, else the English name.
		if t.Name != "" {
			id.Name, id.OtherName = app.NewName(t.Name), app.NewName(t.EnglishName)
		} else {
			id.Name = app.NewName(t.EnglishName)
		}
		id.Nationality = t.Nationality
		if t.Kind == KindForeign2023 {
			if id.IssueCount, ok = count(t.IssueCount); !ok {
				return app.Identity{}, errCardData
			}
		}
	}
	if id.Name.IsZero() {
		return app.Identity{}, errCardData
	}
	if err := id.Check(now); err != nil {
		return app.Identity{}, err
	}
	return id, nil
}

// date parses YYYYMMDD as a calendar date (midnight UTC, like app).
func date(s string) (time.Time, bool) {
	if len(s) != 8 {
		return time.Time{}, false
	}
	for i := 0; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	y, _ := strconv.Atoi(s[:4])
	m, _ := strconv.Atoi(s[4:6])
	d, _ := strconv.Atoi(s[6:])
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

// count parses an issue/renewal count ("" = 0).
func count(s string) (int, bool) {
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 99 {
		return 0, false
	}
	return n, true
}

// TextOf is the inverse of Identity for the simulator: the text block a
// card holding id would carry, for kind k (KindForeign2017 or
// KindForeign2023 for foreign-pr documents; ignored otherwise). Dates are
// formatted as YYYYMMDD, LongTerm as "长期".
func TextOf(id app.Identity, k Kind) Text {
	switch id.Doc.Type() {
	case app.DocCNID:
		k = KindResident
	case app.DocResidencePermit:
		k = KindPermit
	case app.DocForeignPR:
		if k != KindForeign2017 && k != KindForeign2023 {
			k = KindForeign2023
			if len(id.Doc.Reveal()) == 15 {
				k = KindForeign2017
			}
		}
	}
	t := Text{
		Kind: k, Number: id.Doc.Reveal(), Gender: id.Gender.Code(),
		Birth: ymd(id.Birth), ValidFrom: ymd(id.ValidFrom), ValidTo: ymd(id.ValidTo),
	}
	if id.LongTerm {
		t.ValidTo = LongTerm
	}
	switch k {
	case KindResident, KindPermit:
		t.Name = id.Name.Reveal()
		t.Address = id.Address.Reveal()
		t.Authority = id.Authority
		if k == KindResident {
			t.Nation = id.Nation
		} else {
			t.PermitNumber = id.PermitNumber
			t.IssueCount = twoDigits(id.IssueCount)
		}
	default:
		if id.OtherName.IsZero() {
			t.EnglishName = id.Name.Reveal()
		} else {
			t.Name, t.EnglishName = id.Name.Reveal(), id.OtherName.Reveal()
		}
		t.Nationality = id.Nationality
		if k == KindForeign2017 {
			t.CardVersion = "01"
			t.AuthCode = "1100"
		} else {
			t.IssueCount = twoDigits(id.IssueCount)
		}
	}
	return t
}

func ymd(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("20060102")
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
