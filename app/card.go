package app

import (
	"fmt"
	"log/slog"
	"time"
)

// CardKind classifies a fare medium for the upgrade rules (docs/rules.md).
type CardKind string

// Card kinds. The upgrade rules depend only on the kind.
const (
	CardOrdinary      CardKind = "ordinary"       // 普通卡
	CardStudent       CardKind = "student"        // 学生卡
	CardSpecialElder  CardKind = "special_elder"  // 养老助残卡 (elderly/disabled)
	CardCivilAffairs  CardKind = "civil_affairs"  // 民政一卡通
	CardDisability    CardKind = "disability"     // 残疾人服务一卡通
	CardCommemorative CardKind = "commemorative"  // 地铁纪念票
	CardUnion         CardKind = "union"          // 交通联合卡 issued in another city
	CardUnionPay      CardKind = "unionpay"       // UnionPay card: not upgradeable
	CardDCEPWearable  CardKind = "dcep_wearable"  // digital-RMB wearable: not upgradeable
	CardAirRail       CardKind = "air_rail"       // 空轨联运票: not upgradeable
	CardAlipayTicket  CardKind = "alipay_ticket"  // Alipay prepaid e-ticket: not upgradeable
	CardSingleJourney CardKind = "single_journey" // 单程票 token
	CardUnknown       CardKind = "unknown"
)

// Upgradeable reports whether cards of kind k can be bound at all.
func (k CardKind) Upgradeable() bool {
	switch k {
	case CardUnionPay, CardDCEPWearable, CardAirRail, CardAlipayTicket, CardSingleJourney, CardUnknown:
		return false
	}
	return true
}

// Special reports whether the backend upgrades cards of kind k by itself
// (elderly/disabled, civil-affairs and disability-service cards).
func (k CardKind) Special() bool {
	return k == CardSpecialElder || k == CardCivilAffairs || k == CardDisability
}

// CardForm says whether a card is a physical card or a phone's NFC card; a
// person may have one of each bound.
type CardForm string

// Card forms.
const (
	FormPhysical CardForm = "physical"
	FormNFC      CardForm = "nfc"
)

// Card is what a transit-card reader (or the clerk) tells about a card.
// Number is the number as printed on the card. A card number is not a name,
// but once bound it points at a person, so Card redacts it to the last four
// digits in fmt, slog and logs; Number is used directly where needed.
type Card struct {
	Number  string
	Kind    CardKind
	Form    CardForm
	City    string    // issuing city for union cards, e.g. "上海"
	ValidTo time.Time // zero when unknown
	Balance int64     // in fen; -1 when unknown
}

// MaskedNumber returns the card number with all but the last four
// characters replaced by '*'.
func (c Card) MaskedNumber() string { return MaskCardNumber(c.Number) }

// MaskCardNumber masks a card number to its last four characters.
func MaskCardNumber(n string) string {
	r := []rune(n)
	if len(r) <= 4 {
		return repeatStar(len(r))
	}
	return repeatStar(len(r)-4) + string(r[len(r)-4:])
}

func repeatStar(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '*'
	}
	return string(b)
}

// String returns a redacted description.
func (c Card) String() string {
	return fmt.Sprintf("Card{%s %s %s}", c.MaskedNumber(), c.Kind, c.Form)
}

// Format redacts the card for every verb, %+v and %#v included.
func (c Card) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue redacts the card in slog.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(slog.String("number", c.MaskedNumber()), slog.String("kind", string(c.Kind)), slog.String("form", string(c.Form)))
}
