package transitcard

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"stationdesk/app"
)

// Application names and AIDs the reader tries, in order (docs/devices.md "Transit-card reader").
var (
	NameBeijingOC   = []byte("OC")
	NameBeijingPBOC = []byte("PBOC")
	AIDTUnion       = []byte{0xA0, 0x00, 0x00, 0x06, 0x32, 0x01, 0x01, 0x05}
	// UnionPay debit/credit/quasi-credit/e-cash AIDs. A bank card is
	// recognised and refused; its number is never read.
	AIDUnionPay = [][]byte{
		{0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01},
		{0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x02},
		{0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x03},
		{0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x06},
	}
	// NameDCEP and NameToken are placeholders of this code base: the
	// digital-RMB hard wallet's and the single-journey token's real
	// application identifiers are not public (docs/devices.md) and must be
	// set from the AFC vendor's documentation before production.
	NameDCEP  = []byte("DCEP.HW")
	NameToken = []byte("SJT")
)

// App is the application a card answered to.
type App int

// Applications.
const (
	AppNone App = iota
	AppBeijing
	AppTUnion
	AppUnionPay
	AppDCEP
	AppToken
)

// Beijing EF 04 layout. Serial (bytes 0–7) and validity (24–31) are
// Metrodroid's; the city code and card-type byte positions are this code
// base's model, to be confirmed against issuer documentation (docs/devices.md
// "Transit-card reader").
const (
	ef04Len       = 32
	ef04TypeByte  = 10
	tunionInfoLen = 30
	tokenFileLen  = 16
)

// BeijingTypes maps the card-type byte of Beijing EF 04 to a kind.
var BeijingTypes = map[byte]app.CardKind{
	0x01: app.CardOrdinary, 0x02: app.CardStudent, 0x04: app.CardSpecialElder,
	0x05: app.CardCivilAffairs, 0x06: app.CardDisability, 0x07: app.CardCommemorative,
	0x08: app.CardAirRail,
}

// UnionCities maps the 4-digit city code in a transport-union card number
// (digits 5–8, after "3104") to the issuing city.
var UnionCities = map[string]string{"1000": "北京", "1100": "天津", "2900": "上海"}

// FoundCard is what the reader's find-card answer tells: the marker byte
// (FoundTypeA/B, FoundNFC*) and the UID that followed.
type FoundCard struct {
	Type byte
	UID  []byte
}

// Form is FormNFC for phone NFC markers, FormPhysical otherwise.
func (f FoundCard) Form() app.CardForm {
	switch f.Type {
	case FoundNFCCMCC, FoundNFCCTel, FoundNFCUnic:
		return app.FormNFC
	}
	return app.FormPhysical
}

// ReadCard reads the public application data of the card in the field and
// classifies it. Card.Number is the number as printed: for Beijing cards
// EF 04 bytes 0–7 in hex without leading zeros, for transport-union cards
// the 19 digits of EF 15, for tokens the token serial; it is "" for bank
// cards and digital-RMB wallets, which cannot be bound anyway. Balance is
// -1 when the card does not say. Errors: transport errors as is; a card
// that answers none of the applications is errUnknownCard; malformed
// files errCardData.
func ReadCard(ctx context.Context, t Transceiver, found FoundCard) (app.Card, error) {
	a, err := selectApp(ctx, t)
	if err != nil {
		return app.Card{}, err
	}
	c := app.Card{Form: found.Form(), Balance: -1}
	switch a {
	case AppBeijing:
		f, err := exchange(ctx, t, readBinarySFI(0x04))
		if err != nil {
			return app.Card{}, cardErr(err)
		}
		if len(f) < ef04Len {
			return app.Card{}, errCardData
		}
		c.Number = strings.TrimLeft(strings.ToUpper(hex.EncodeToString(f[0:8])), "0")
		k, ok := BeijingTypes[f[ef04TypeByte]]
		if !ok {
			k = app.CardUnknown
		}
		c.Kind = k
		c.ValidTo, _ = bcdDate(f[28:32])
		if _, err := exchange(ctx, t, selectFID(0x1001)); err == nil {
			if c.Balance, err = balance(ctx, t); err != nil {
				return app.Card{}, err
			}
		} else if !isSW(err) {
			return app.Card{}, err
		}
	case AppTUnion:
		f, err := exchange(ctx, t, readBinarySFI(0x15))
		if err != nil {
			return app.Card{}, cardErr(err)
		}
		if len(f) < tunionInfoLen {
			return app.Card{}, errCardData
		}
		n := strings.ToUpper(hex.EncodeToString(f[10:20]))[1:]
		c.Number = n
		c.Kind = app.CardUnion
		if city, ok := UnionCities[n[4:8]]; ok {
			c.City = city
			if n[4:8] == "1000" {
				c.Kind = app.CardOrdinary // a Beijing-issued interoperable card
			}
		}
		c.ValidTo, _ = bcdDate(f[24:28])
		if c.Balance, err = balance(ctx, t); err != nil {
			return app.Card{}, err
		}
	case AppUnionPay:
		c.Kind = app.CardUnionPay
	case AppDCEP:
		c.Kind = app.CardDCEPWearable
	case AppToken:
		f, err := exchange(ctx, t, readBinarySFI(0x01))
		if err != nil {
			return app.Card{}, cardErr(err)
		}
		tok, err := parseToken(f)
		if err != nil {
			return app.Card{}, err
		}
		c.Number, c.Kind, c.Balance = tok.Serial, app.CardSingleJourney, 0
		if tok.Issued {
			c.Balance = tok.FareFen
			c.ValidTo = tok.ValidUntil
		}
	}
	return c, nil
}

// selectApp tries each known application in order.
func selectApp(ctx context.Context, t Transceiver) (App, error) {
	try := []struct {
		a    App
		name []byte
	}{{AppBeijing, NameBeijingOC}, {AppBeijing, NameBeijingPBOC}, {AppTUnion, AIDTUnion}}
	for _, aid := range AIDUnionPay {
		try = append(try, struct {
			a    App
			name []byte
		}{AppUnionPay, aid})
	}
	try = append(try, struct {
		a    App
		name []byte
	}{AppDCEP, NameDCEP}, struct {
		a    App
		name []byte
	}{AppToken, NameToken})
	for _, x := range try {
		_, err := exchange(ctx, t, selectName(x.name))
		if err == nil {
			return x.a, nil
		}
		if !isSW(err) {
			return AppNone, err
		}
	}
	return AppNone, errUnknownCard
}

func isSW(err error) bool {
	var sw SWError
	return errors.As(err, &sw)
}

// cardErr maps a card status on a read to errCardData; transport errors
// pass through.
func cardErr(err error) error {
	if isSW(err) {
		return errCardData
	}
	return err
}

// balance runs GET BALANCE and decodes it like Metrodroid: a signed 31-bit
// value from bit 1 ("the upper bit is some garbage"), in fen. -1 when the
// card refuses it or answers short; a transport error is returned.
func balance(ctx context.Context, t Transceiver) (int64, error) {
	b, err := exchange(ctx, t, getBalance())
	switch {
	case err != nil && !isSW(err):
		// The reader or the card stopped answering (a time-out, the
		// card lifted): an error, so the read is tried again, rather
		// than a card shown with no balance.
		return -1, err
	case err != nil || len(b) < 4:
		return -1, nil // the card does not say
	}
	return DecodeBalance(b), nil
}

// DecodeBalance decodes a 4-byte GET BALANCE answer.
func DecodeBalance(b []byte) int64 {
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) & 0x7FFFFFFF
	if v&0x40000000 != 0 {
		return int64(v) - 0x80000000
	}
	return int64(v)
}

// EncodeBalance is the inverse of DecodeBalance (for the simulator).
func EncodeBalance(fen int64) []byte {
	v := uint32(fen) & 0x7FFFFFFF
	return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// bcdDate decodes YYYYMMDD from 4 BCD bytes.
func bcdDate(b []byte) (time.Time, bool) {
	s := hex.EncodeToString(b)
	t, err := time.Parse("20060102", s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

func bcd(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		s = "0" + s
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("bcd: non-digit")
		}
	}
	return hex.DecodeString(s)
}

// Token is the single-journey token file (SFI 1, 16 bytes) of this code
// base's token model: serial (5 bytes BCD), state (0 blank, 1 issued),
// fare in fen (2 bytes BE), origin station (2 bytes BCD), valid until
// (6 bytes BCD YYYYMMDDhhmm, China time).
type Token struct {
	Serial     string
	Issued     bool
	FareFen    int64
	Origin     string
	ValidUntil time.Time
}

var chinaTime = time.FixedZone("CST", 8*3600)

func parseToken(f []byte) (Token, error) {
	if len(f) < tokenFileLen {
		return Token{}, errCardData
	}
	t := Token{Serial: hex.EncodeToString(f[0:5])}
	switch f[5] {
	case 0:
	case 1:
		t.Issued = true
		t.FareFen = int64(f[6])<<8 | int64(f[7])
		t.Origin = hex.EncodeToString(f[8:10])
		v, err := time.ParseInLocation("200601021504", hex.EncodeToString(f[10:16]), chinaTime)
		if err != nil {
			return Token{}, errCardData
		}
		t.ValidUntil = v
	default:
		return Token{}, errCardData
	}
	return t, nil
}

// EncodeToken builds the token file (for IssueSingleJourney and the
// simulator).
func EncodeToken(t Token) ([]byte, error) {
	f := make([]byte, tokenFileLen)
	s, err := bcd(t.Serial)
	if err != nil || len(s) != 5 {
		return nil, fmt.Errorf("token serial: want 10 digits")
	}
	copy(f, s)
	if t.Issued {
		f[5] = 1
		f[6], f[7] = byte(t.FareFen>>8), byte(t.FareFen)
		o, err := bcd(t.Origin)
		if err != nil || len(o) != 2 {
			return nil, fmt.Errorf("token origin: want 4 digits")
		}
		copy(f[8:10], o)
		v, err := bcd(t.ValidUntil.In(chinaTime).Format("200601021504"))
		if err != nil {
			return nil, err
		}
		copy(f[10:16], v)
	}
	return f, nil
}

// CheckTicketSpec validates spec at now: fare 1..65535 fen, a 4-digit
// origin, valid-until in the future and within a year of now. Errors are
// CodeInvalid with reason "ticket_spec".
func CheckTicketSpec(spec app.TicketSpec, now time.Time) error {
	if spec.FareFen < 1 || spec.FareFen > 0xFFFF {
		return errTicketSpec
	}
	if len(spec.Origin) != 4 {
		return errTicketSpec
	}
	if _, err := bcd(spec.Origin); err != nil {
		return errTicketSpec
	}
	if !spec.ValidUntil.After(now) || spec.ValidUntil.After(now.AddDate(1, 0, 0)) || spec.ValidUntil.Year() > 9999 {
		return errTicketSpec
	}
	return nil
}

// IssueSingleJourney writes spec onto the blank token in the field and
// reads it back. It returns the token serial. Errors: errNotToken (the
// card is not a token), errNotBlank (already issued), errCardData, a
// failed write-back check (errReplace), transport errors as is.
func IssueSingleJourney(ctx context.Context, t Transceiver, spec app.TicketSpec) (string, error) {
	if _, err := exchange(ctx, t, selectName(NameToken)); err != nil {
		if isSW(err) {
			return "", errNotToken
		}
		return "", err
	}
	f, err := exchange(ctx, t, readBinarySFI(0x01))
	if err != nil {
		return "", cardErr(err)
	}
	tok, err := parseToken(f)
	if err != nil {
		return "", err
	}
	if tok.Issued {
		return "", errNotBlank
	}
	tok.Issued, tok.FareFen, tok.Origin = true, spec.FareFen, spec.Origin
	tok.ValidUntil = spec.ValidUntil.Truncate(time.Minute)
	img, err := EncodeToken(tok)
	if err != nil {
		return "", errTicketSpec
	}
	if _, err := exchange(ctx, t, updateBinarySFI(0x01, img)); err != nil {
		return "", cardErr(err)
	}
	back, err := exchange(ctx, t, readBinarySFI(0x01))
	if err != nil {
		return "", cardErr(err)
	}
	if len(back) < tokenFileLen || string(back[:tokenFileLen]) != string(img) {
		return "", errReplace
	}
	return tok.Serial, nil
}

// Image is a card's content as the simulator serves it: which application
// it answers to, its files by SFI and its balance.
type Image struct {
	App     App
	Files   map[byte][]byte
	Balance int64
}

// ImageOf builds the chip image a card like c would carry (for the
// simulator and round-trip tests). Beijing cards take c.Number as up to 16
// digits; union cards 19 digits; tokens 10 digits.
func ImageOf(c app.Card) (Image, error) {
	img := Image{Files: map[byte][]byte{}, Balance: c.Balance}
	switch c.Kind {
	case app.CardUnionPay:
		img.App = AppUnionPay
	case app.CardDCEPWearable:
		img.App = AppDCEP
	case app.CardSingleJourney:
		img.App = AppToken
		f, err := EncodeToken(Token{Serial: c.Number})
		if err != nil {
			return Image{}, err
		}
		img.Files[0x01] = f
	case app.CardUnion:
		img.App = AppTUnion
		if len(c.Number) != 19 {
			return Image{}, fmt.Errorf("union card number: want 19 digits")
		}
		n, err := bcd("0" + c.Number)
		if err != nil {
			return Image{}, err
		}
		f := make([]byte, tunionInfoLen)
		copy(f[0:8], []byte{0x03, 0x10, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00})
		f[8], f[9] = 0x02, 0x01
		copy(f[10:20], n)
		copy(f[20:24], mustBCD("20200101"))
		copy(f[24:28], dateBCD(c.ValidTo, "20401231"))
		img.Files[0x15] = f
	default:
		img.App = AppBeijing
		var tb byte = 0x01
		for b, k := range BeijingTypes {
			if k == c.Kind {
				tb = b
			}
		}
		if c.Kind == app.CardUnknown {
			tb = 0xEE
		}
		if len(c.Number) == 0 || len(c.Number) > 16 {
			return Image{}, fmt.Errorf("beijing card number: want 1..16 digits")
		}
		n, err := hex.DecodeString(strings.Repeat("0", 16-len(c.Number)) + c.Number)
		if err != nil {
			return Image{}, fmt.Errorf("beijing card number: %w", err)
		}
		f := make([]byte, ef04Len)
		copy(f[0:8], n)
		copy(f[8:10], mustBCD("1000"))
		f[ef04TypeByte] = tb
		f[11] = 0x01
		copy(f[24:28], mustBCD("20200101"))
		copy(f[28:32], dateBCD(c.ValidTo, "20401231"))
		img.Files[0x04] = f
	}
	return img, nil
}

func mustBCD(s string) []byte {
	b, err := bcd(s)
	if err != nil {
		panic(err)
	}
	return b
}

func dateBCD(t time.Time, def string) []byte {
	if t.IsZero() {
		return mustBCD(def)
	}
	return mustBCD(t.Format("20060102"))
}
