// Package demo holds the demo riders and cards shared by the device
// simulators (ID-card reader, transit-card reader, QR scanner) and the
// central simulator, so that a card "placed" on the simulated reader is the
// card central knows, with the health state the demo case is about.
//
// Everything here is fictional: names, addresses, phone numbers, card
// numbers. The document numbers are nevertheless valid under the app
// package's rules (check digits computed, birth dates consistent with the
// identities), because the demo has to pass the same validation as real
// input. The package imports only app and the standard library.
//
// Card-number formats (fictional, chosen to look like the printed ones):
//   - Beijing Yikatong cards (ordinary, student, 养老助残卡, civil-affairs,
//     commemorative, NFC): 10 digits starting 1000, as printed on the back
//     of ordinary Beijing cards; the fifth digit groups the demo kinds
//     (2 ordinary, 3 NFC, 4 elderly, 5 student, 6 commemorative, 7
//     civil-affairs).
//   - National transport-union card from Shanghai: 19 digits starting 3104.
//   - UnionPay: 16 digits starting 62 (the UnionPay prefix).
//   - Digital-RMB wearable: 16 digits starting 0086 (made up; such wallets
//     have no transit number a reader could bind to).
//   - Blank single-journey token: 10 digits starting 99 (a made-up chip
//     serial; a token is never bound).
//
// Every number is unique across Cards.
package demo

import (
	"crypto/sha256"
	_ "embed"
	"fmt"
	"time"

	"stationdesk/app"
)

// Fares is the demo station's fare table (Beijing's distance-based subway
// fares from Xidan), in the TOML form a station's fare_table file has; a
// station loads its own from configuration.
//
//go:embed fares_demo.toml
var Fares []byte

// Operator is a demo desk account. The PINs are public (shown on the demo
// login screen): only demo mode seeds them, only in a demo data folder.
// DisplayName (seeded) is the Chinese name, NameEN the one an English
// desk shows: the demo names say what the account is rather than name a
// person, so they are worded in the interface language.
type Operator struct {
	app.Operator
	PIN    string
	NameEN string
}

// Operators are the demo accounts: operator number, then PIN = number +
// "01".
func Operators() []Operator {
	return []Operator{
		{app.Operator{ID: "1001", DisplayName: "演示售票员", Role: app.RoleClerk}, "100101", "Demo clerk"},
		{app.Operator{ID: "2001", DisplayName: "演示客服", Role: app.RoleAssistant}, "200101", "Demo assistant"},
		{app.Operator{ID: "9001", DisplayName: "演示值班站长", Role: app.RoleSupervisor}, "900101", "Demo supervisor"},
	}
}

// RefTime is the reference time of the demo data: every identity passes
// app.Identity.Check at RefTime and its documents were issued before it.
// It is mid-2024 so that both generations of the foreign permanent
// resident card (2017 form, 2023 form issued from December 2023) are in
// circulation; health states are relative (HealthAt), so the date does not
// matter for them.
var RefTime = time.Date(2024, 6, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// Rider is one demo person. Identity, Phone and the health fields are
// personal data even though fictional: they go through the same redacting
// types as real data. Identity's fmt/slog/JSON forms are masked.
type Rider struct {
	Key      string // stable and unique, e.g. "green-fresh"
	Identity app.Identity

	// Health, relative to the moment asked (HealthAt): Color is the
	// health-kit colour; TestAge how long ago the last negative NAT
	// sample was taken (0: none on record); HealthAge how old central's
	// status is.
	Color     app.HealthColor
	TestAge   time.Duration
	HealthAge time.Duration

	Cards     []app.Card // cards the rider carries
	Bound     []string   // numbers of Cards central already has bound to the rider (special cards are bound by central anyway)
	Phone     string     // masked fictional mobile number verification codes go to; "" = none on record
	ProxyUsed int        // upgrades this rider has already done for others (代办), of app.Policy.ProxyLimit
	Welfare   string     // welfare category for special cards: "elderly" or ""
	Note      string     // what the case demonstrates, English
	NoteZH    string     // the same in Chinese
}

// HealthAt returns the rider's health status as central reports it at now.
func (r Rider) HealthAt(now time.Time) app.HealthStatus {
	h := app.HealthStatus{Color: r.Color, AsOf: now.Add(-r.HealthAge)}
	if r.TestAge > 0 {
		h.LastNegative = now.Add(-r.TestAge)
	}
	return h
}

// NewTokenItem is the demo transit-card item that places a fresh blank
// token from the station's stock, a new serial each time. The demo token
// (BlankTokenNumber) keeps what was written on it, as a real token does,
// so it is blank only once.
const NewTokenItem = "new-token"

// Card numbers that simulators and tests refer to by name.
const (
	WornCardNumber    = "1000200012"          // ordinary card whose printed number has worn off
	BlankTokenNumber  = "9900000001"          // blank single-journey token
	UnionPayNumber    = "6216610000000099"    // not upgradeable
	DCEPNumber        = "0086000000000001"    // digital-RMB wearable, not upgradeable
	ShanghaiNumber    = "3104290000000000017" // 交通联合卡 from Shanghai, upgradeable
	CommemorativeNo   = "1000600001"          // 地铁纪念票
	CivilAffairsNo    = "1000700001"          // 民政一卡通, upgraded by central
	elderSpecialNo    = "1000400001"
	studentCardNumber = "1000500001"
)

// Riders returns every demo rider, freshly built (callers may modify the
// result).
func Riders() []Rider { return riders() }

// RiderByKey returns the demo rider with the given key. (It cannot be
// called Rider: that is the type's name.)
func RiderByKey(key string) (Rider, bool) {
	for _, r := range riders() {
		if r.Key == key {
			return r, true
		}
	}
	return Rider{}, false
}

// Cards returns every demo card: the riders' cards and the unbound ones
// (UnionPay, digital-RMB wearable, commemorative ticket, Shanghai union
// card, civil-affairs card, the worn card, the blank token), freshly built.
func Cards() []app.Card {
	var out []app.Card
	for _, r := range riders() {
		out = append(out, r.Cards...)
	}
	return append(out, looseCards()...)
}

// CardNote returns what a demo card demonstrates (English, Chinese), for
// the simulator panel; ok is false for a number that is not a demo card.
func CardNote(number string) (en, zh string, ok bool) {
	for _, r := range riders() {
		for _, c := range r.Cards {
			if c.Number == number {
				en, zh := "physical card", "实体卡"
				if c.Form == app.FormNFC {
					en, zh = "phone NFC card", "手机NFC卡"
				}
				return fmt.Sprintf("%s of rider %q", en, r.Key), fmt.Sprintf("演示乘客“%s”的%s", r.Key, zh), true
			}
		}
	}
	if n, ok := looseNotes[number]; ok {
		return n[0], n[1], true
	}
	return "", "", false
}

var looseNotes = map[string][2]string{
	UnionPayNumber:   {"UnionPay card: cannot be upgraded; suggest a ride code or a single ticket", "银联卡：不能升级，请建议使用乘车码或购买单程票"},
	DCEPNumber:       {"Digital-RMB wearable: cannot be upgraded", "数字人民币可穿戴设备：不能升级"},
	CommemorativeNo:  {"Commemorative ticket: upgraded like a card, with extra details", "地铁纪念票：与普通卡一样可升级，需填写附加信息"},
	ShanghaiNumber:   {"Transport-union card issued in Shanghai: can be upgraded", "上海发行的交通联合卡：可以升级"},
	CivilAffairsNo:   {"Civil-affairs card: upgraded by the backend automatically; nothing to do but confirm", "民政一卡通：由后台自动升级，窗口只需确认"},
	WornCardNumber:   {"Ordinary card whose printed number has worn off: read it at the window", "卡面号码已磨损的普通卡：可在窗口读卡查看卡号"},
	BlankTokenNumber: {"Blank single-journey token: not a card, cannot be upgraded", "空白单程票：不是卡，不能升级"},
}

func looseCards() []app.Card {
	return []app.Card{
		{Number: UnionPayNumber, Kind: app.CardUnionPay, Form: app.FormPhysical, Balance: -1},
		{Number: DCEPNumber, Kind: app.CardDCEPWearable, Form: app.FormPhysical, Balance: -1},
		{Number: CommemorativeNo, Kind: app.CardCommemorative, Form: app.FormPhysical, Balance: 2000},
		{Number: ShanghaiNumber, Kind: app.CardUnion, Form: app.FormPhysical, City: "上海", Balance: 3550},
		{Number: CivilAffairsNo, Kind: app.CardCivilAffairs, Form: app.FormPhysical, Balance: 0},
		{Number: WornCardNumber, Kind: app.CardOrdinary, Form: app.FormPhysical, Balance: 1240},
		{Number: BlankTokenNumber, Kind: app.CardSingleJourney, Form: app.FormPhysical, Balance: 0},
	}
}

// ---------------------------------------------------------------------------

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// doc parses a demo number; the numbers are constants checked by the
// package tests, so a failure is a programming error.
func doc(key string, t app.DocType, raw string) app.DocNumber {
	d, err := app.ParseDocAt(t, raw, RefTime)
	if err != nil {
		panic("demo: rider " + key + ": " + err.Error())
	}
	return d
}

// photo is 1024 deterministic filler bytes standing in for the WLT photo
// block a real card carries (nobody decodes it).
func photo(key string) app.Photo {
	out := make([]byte, 0, 1024)
	h := sha256.Sum256([]byte("demo photo " + key))
	for len(out) < 1024 {
		out = append(out, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return app.Photo(out[:1024])
}

func card(number string, kind app.CardKind, form app.CardForm, balance int64) app.Card {
	return app.Card{Number: number, Kind: kind, Form: form, Balance: balance}
}

// resident builds a resident-ID identity read by the reader.
func resident(key, number, name string, g app.Gender, nation string, birth time.Time, addr, authority string, from, to time.Time) app.Identity {
	return app.Identity{
		Doc: doc(key, app.DocCNID, number), Name: app.NewName(name), Gender: g, Nation: nation,
		Nationality: "CHN", Birth: birth, Address: app.Sensitive(addr), Authority: authority,
		ValidFrom: from, ValidTo: to, LongTerm: to.IsZero(), Photo: photo(key), Source: app.SourceReader,
	}
}

func riders() []Rider {
	const h = time.Hour
	return []Rider{
		{
			Key: "green-fresh",
			Identity: resident("green-fresh", "110101198803140036", "李明华", app.GenderMale, "01", day(1988, 3, 14),
				"北京市东城区示例胡同1号", "北京市公安局东城分局", day(2015, 5, 20), day(2035, 5, 20)),
			Color: app.ColorGreen, TestAge: 6 * h, HealthAge: 5 * time.Minute,
			Cards: []app.Card{
				card("1000200001", app.CardOrdinary, app.FormPhysical, 4560),
				card("1000300001", app.CardOrdinary, app.FormNFC, 1280),
			},
			Bound:  []string{"1000200001", "1000300001"},
			Phone:  "138****0001",
			Note:   "Green code, negative test 6 h ago; one physical and one NFC card already upgraded (the maximum).",
			NoteZH: "绿码，6小时前核酸阴性；已升级一张实体卡和一张手机NFC卡（已达上限）。",
		},
		{
			Key: "green-72h",
			Identity: resident("green-72h", "110105197911020059", "赵建国", app.GenderMale, "01", day(1979, 11, 2),
				"北京市朝阳区示例路2号", "北京市公安局朝阳分局", day(2012, 8, 10), day(2032, 8, 10)),
			Color: app.ColorGreen, TestAge: 72 * h, HealthAge: 10 * time.Minute,
			Cards:  []app.Card{card("1000200002", app.CardOrdinary, app.FormPhysical, 830)},
			Phone:  "138****0002",
			Note:   "Green code but the last negative test is 72 h old: outside the 48 h window.",
			NoteZH: "绿码，但最近一次核酸阴性已是72小时前：超出48小时。",
		},
		{
			Key: "yellow",
			Identity: resident("yellow", "110108199507210043", "周丽", app.GenderFemale, "01", day(1995, 7, 21),
				"北京市海淀区示例大街3号", "北京市公安局海淀分局", day(2018, 3, 1), day(2028, 3, 1)),
			Color: app.ColorYellow, TestAge: 30 * h, HealthAge: 15 * time.Minute,
			Cards:  []app.Card{card("1000200003", app.CardOrdinary, app.FormPhysical, 1500)},
			Phone:  "138****0003",
			Note:   "Yellow code: no ticket, no entry; refer to the station supervisor.",
			NoteZH: "黄码：不售票、不进站，请联系值班站长。",
		},
		{
			Key: "red",
			Identity: resident("red", "11010619900109007X", "孙浩", app.GenderMale, "03", day(1990, 1, 9),
				"北京市丰台区示例里4号", "北京市公安局丰台分局", day(2016, 4, 5), day(2036, 4, 5)),
			Color: app.ColorRed, TestAge: 20 * h, HealthAge: 2 * time.Minute,
			Cards:  []app.Card{card("1000200004", app.CardOrdinary, app.FormPhysical, 0)},
			Phone:  "138****0004",
			Note:   "Red code: no ticket, no entry; the check digit of this number is X.",
			NoteZH: "红码：不售票、不进站；该证件号码校验位为X。",
		},
		{
			Key: "visitor-shanghai",
			Identity: resident("visitor-shanghai", "310104198310300026", "陈静", app.GenderFemale, "01", day(1983, 10, 30),
				"上海市徐汇区示例路5号", "上海市公安局徐汇分局", day(2014, 6, 18), day(2034, 6, 18)),
			Color: app.ColorNone, HealthAge: 0,
			Phone:  "139****0005",
			Note:   "Visitor from Shanghai without a Beijing health-kit account: manual check of a negative test certificate.",
			NoteZH: "上海来京访客，无北京健康宝账号：需人工查验核酸阴性证明。",
		},
		{
			Key: "elder-special",
			Identity: resident("elder-special", "110102194602280022", "刘桂兰", app.GenderFemale, "11", day(1946, 2, 28),
				"北京市西城区示例胡同6号", "北京市公安局西城分局", day(2006, 9, 15), time.Time{}),
			Color: app.ColorGreen, TestAge: 20 * h, HealthAge: 30 * time.Minute,
			Cards: []app.Card{
				card(elderSpecialNo, app.CardSpecialElder, app.FormPhysical, 0),
				card("1000200005", app.CardOrdinary, app.FormPhysical, 2210),
			},
			Phone:   "136****0006",
			Welfare: "elderly",
			Note:    "Elderly rider born 1946 (ID valid long-term): her 养老助残卡 is upgraded by the backend; she may also bind one ordinary card.",
			NoteZH:  "1946年出生的老年乘客（证件长期有效）：养老助残卡由后台自动升级；另可绑定一张普通卡。",
		},
		{
			Key: "student",
			Identity: resident("student", "110108200509010032", "吴思远", app.GenderMale, "01", day(2005, 9, 1),
				"北京市海淀区示例小区7号楼", "北京市公安局海淀分局", day(2021, 10, 8), day(2031, 10, 8)),
			Color: app.ColorGreen, TestAge: 10 * h, HealthAge: 20 * time.Minute,
			Cards:  []app.Card{card(studentCardNumber, app.CardStudent, app.FormPhysical, 960)},
			Phone:  "137****0007",
			Note:   "Student card holder: upgraded like an ordinary card.",
			NoteZH: "学生卡持卡人：与普通卡一样升级。",
		},
		{
			Key: "passport-gbr",
			Identity: app.Identity{
				// TD3 line 2 of a fictional British passport; check digits
				// computed with the ICAO 9303 7-3-1 rule.
				Doc:  doc("passport-gbr", app.DocPassport, "5334018725GBR8706124M3104013<<<<<<<<<<<<<<<6"),
				Name: app.NewName("Oliver Bennett"), Gender: app.GenderMale, Nationality: "GBR",
				Birth: day(1987, 6, 12), Authority: "HM Passport Office",
				ValidFrom: day(2021, 4, 1), ValidTo: day(2031, 4, 1), Source: app.SourceManual,
			},
			Color: app.ColorGreen, TestAge: 18 * h, HealthAge: 10 * time.Minute,
			Cards:  []app.Card{card("1000200006", app.CardOrdinary, app.FormPhysical, 5000)},
			Note:   "British passport holder, green: upgrades with the passport (nationality + number); no mobile number on record.",
			NoteZH: "英国护照持有人，绿码：凭护照（国籍+号码）升级；无登记手机号。",
		},
		{
			Key: "hk-resident",
			Identity: app.Identity{
				Doc: doc("hk-resident", app.DocResidencePermit, "810000199204170039"), Name: app.NewName("黄家明"),
				Gender: app.GenderMale, Nationality: "CHN", Birth: day(1992, 4, 17),
				Address: app.Sensitive("北京市朝阳区示例公寓8号"), Authority: "北京市公安局朝阳分局",
				ValidFrom: day(2022, 3, 10), ValidTo: day(2027, 3, 10),
				PermitNumber: "H60123456", IssueCount: 1, Photo: photo("hk-resident"), Source: app.SourceReader,
			},
			Color: app.ColorGreen, TestAge: 8 * h, HealthAge: 5 * time.Minute,
			Cards:  []app.Card{card("1000200007", app.CardOrdinary, app.FormPhysical, 3000)},
			Phone:  "135****0008",
			Note:   "Hong Kong resident with a residence permit (J card, 810000…) that also carries the HK/Macao travel-permit number.",
			NoteZH: "香港居民，持港澳台居民居住证（J卡，810000开头），卡内含港澳居民来往内地通行证号码。",
		},
		{
			Key: "tw-resident",
			Identity: app.Identity{
				Doc: doc("tw-resident", app.DocResidencePermit, "830000198912050045"), Name: app.NewName("林怡君"),
				Gender: app.GenderFemale, Nationality: "CHN", Birth: day(1989, 12, 5),
				Address: app.Sensitive("北京市海淀区示例园9号"), Authority: "北京市公安局海淀分局",
				ValidFrom: day(2022, 5, 1), ValidTo: day(2027, 5, 1),
				PermitNumber: "01234567", IssueCount: 1, Photo: photo("tw-resident"), Source: app.SourceReader,
			},
			Color: app.ColorGreen, TestAge: 26 * h, HealthAge: 5 * time.Minute,
			Cards:  []app.Card{card("1000200008", app.CardOrdinary, app.FormPhysical, 1800)},
			Phone:  "135****0009",
			Note:   "Taiwan resident with a residence permit (830000…) and an 8-digit Taiwan travel-permit number.",
			NoteZH: "台湾居民，持居住证（830000开头）及8位台湾居民来往大陆通行证号码。",
		},
		{
			Key: "foreigner-2023",
			Identity: app.Identity{
				Doc: doc("foreigner-2023", app.DocForeignPR, "911752198003150028"), Name: app.NewName("林安娜"),
				OtherName: app.NewName("LINDQVIST, ANNA"), Gender: app.GenderFemale, Nationality: "SWE",
				Birth: day(1980, 3, 15), Authority: "国家移民管理局",
				ValidFrom: day(2023, 12, 20), ValidTo: day(2033, 12, 20), Photo: photo("foreigner-2023"), Source: app.SourceReader,
			},
			Color: app.ColorGreen, TestAge: 40 * h, HealthAge: 10 * time.Minute,
			Cards:  []app.Card{card("1000200009", app.CardOrdinary, app.FormPhysical, 700)},
			Phone:  "186****0010",
			Note:   "Swedish citizen with the 2023 permanent-residence card (Y card, 18 digits starting 9); test 40 h old, still inside 48 h.",
			NoteZH: "瑞典籍，持2023版外国人永久居留身份证（Y卡，9开头18位）；核酸40小时，仍在48小时内。",
		},
		{
			Key: "foreigner-2017",
			Identity: app.Identity{
				Doc: doc("foreigner-2017", app.DocForeignPR, "JPN110075080917"), Name: app.NewName("佐藤健二"),
				OtherName: app.NewName("SATO, KENJI"), Gender: app.GenderMale, Nationality: "JPN",
				Birth: day(1975, 8, 9), Authority: "公安部",
				ValidFrom: day(2017, 3, 1), ValidTo: day(2027, 3, 1), Photo: photo("foreigner-2017"), Source: app.SourceReader,
			},
			Color: app.ColorGreen, TestAge: 46 * h, HealthAge: 10 * time.Minute,
			Cards:  []app.Card{card("1000200010", app.CardOrdinary, app.FormPhysical, 1100)},
			Phone:  "186****0011",
			Note:   "Japanese citizen with the 2017 permanent-residence card (I card, 15 characters); test 46 h old, close to the window.",
			NoteZH: "日本籍，持2017版外国人永久居留身份证（I卡，15位）；核酸46小时，接近时限。",
		},
		{
			Key: "helper-proxy",
			Identity: resident("helper-proxy", "11010519700618001X", "欧阳志强", app.GenderMale, "01", day(1970, 6, 18),
				"北京市朝阳区示例街10号", "北京市公安局朝阳分局", day(2016, 7, 1), time.Time{}),
			Color: app.ColorGreen, TestAge: 10 * h, HealthAge: 5 * time.Minute,
			Cards:     []app.Card{card("1000200011", app.CardOrdinary, app.FormPhysical, 2600)},
			Bound:     []string{"1000200011"},
			Phone:     "139****0012",
			ProxyUsed: 4,
			Note:      "Helper (代办) who has already upgraded 4 cards for others: one more is allowed, the sixth is refused.",
			NoteZH:    "代办人，已为他人升级4张卡：还可再办1张，第6张将被拒绝。",
		},
	}
}
