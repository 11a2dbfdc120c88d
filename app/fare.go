package app

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// FareBand is one step of a distance-based fare scale: journeys up to
// UpToKm kilometres cost FareYuan.
type FareBand struct {
	UpToKm   float64 `toml:"up_to_km" json:"up_to_km"`
	FareYuan int64   `toml:"fare_yuan" json:"fare_yuan"`
}

// FareRule is a distance-based fare scale: Bands in increasing distance,
// then ExtraYuan more for every started ExtraPerKm beyond the last band.
// Beijing's subway scale (since 28 December 2014): up to 6 km 3 yuan,
// 6–12 km 4 yuan, 12–22 km 5 yuan, 22–32 km 6 yuan, beyond 32 km 1 yuan
// more per 20 km (BeijingFareRule).
type FareRule struct {
	Bands      []FareBand `toml:"band" json:"bands"`
	ExtraPerKm float64    `toml:"extra_per_km" json:"extra_per_km"`
	ExtraYuan  int64      `toml:"extra_yuan" json:"extra_yuan"`
}

// BeijingFareRule is the Beijing subway's distance-based scale.
func BeijingFareRule() FareRule {
	return FareRule{
		Bands:      []FareBand{{6, 3}, {12, 4}, {22, 5}, {32, 6}},
		ExtraPerKm: 20, ExtraYuan: 1,
	}
}

// FareFen returns the fare in fen for a journey of km kilometres. km must
// be positive and finite (the table validation guarantees it for its
// destinations).
func (r FareRule) FareFen(km float64) int64 {
	for _, b := range r.Bands {
		if km <= b.UpToKm {
			return b.FareYuan * 100
		}
	}
	last := r.Bands[len(r.Bands)-1]
	steps := int64(math.Ceil((km - last.UpToKm) / r.ExtraPerKm))
	return (last.FareYuan + steps*r.ExtraYuan) * 100
}

func (r FareRule) validate() error {
	if len(r.Bands) == 0 {
		return errFareTable("no fare bands")
	}
	prevKm, prevFare := 0.0, int64(0)
	for _, b := range r.Bands {
		if !(b.UpToKm > prevKm) || math.IsInf(b.UpToKm, 0) || b.FareYuan <= prevFare || b.FareYuan > 100 {
			return errFareTable("bands must grow in distance and fare (1–100 yuan)")
		}
		prevKm, prevFare = b.UpToKm, b.FareYuan
	}
	if !(r.ExtraPerKm > 0) || r.ExtraYuan < 0 || r.ExtraYuan > 100 {
		return errFareTable("extra_per_km must be > 0 and extra_yuan 0–100")
	}
	return nil
}

// Destination is a station a ticket can be sold to, with its shortest
// network distance from the selling station.
type Destination struct {
	Code   string  `toml:"code" json:"code"` // 4-digit station code
	NameZH string  `toml:"name_zh" json:"name_zh"`
	NameEN string  `toml:"name_en" json:"name_en"`
	Line   string  `toml:"line" json:"line"` // e.g. "1号线 Line 1"
	Km     float64 `toml:"km" json:"km"`
}

// Name returns the destination's name in l.
func (d Destination) Name(l Lang) string {
	if l == LangEN && d.NameEN != "" {
		return d.NameEN
	}
	return d.NameZH
}

// FareConfig is the fare table as configured (assets/config/fares*.toml):
// the selling station, the rule and the destinations.
type FareConfig struct {
	StationCode   string        `toml:"station_code" json:"station_code"`
	StationNameZH string        `toml:"station_name_zh" json:"station_name_zh"`
	StationNameEN string        `toml:"station_name_en" json:"station_name_en"`
	Rule          FareRule      `toml:"rule" json:"rule"`
	Destinations  []Destination `toml:"destination" json:"destinations"`
}

// FareTable is a validated fare table. It is immutable and safe for
// concurrent use.
type FareTable struct {
	cfg    FareConfig
	byCode map[string]Destination
}

func errFareTable(why string) error {
	return NewError(CodeInvalid, "fare_table", "票价表配置无效："+why+"。", "Invalid fare table: "+why+".")
}

func fourDigits(s string) bool {
	if len(s) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// NewFareTable validates cfg: the station code and every destination code
// are 4 digits and unique, names are 1–32 characters, distances are
// positive and below 500 km, and the rule's bands grow. Errors are
// CodeInvalid "fare_table" naming the problem.
func NewFareTable(cfg FareConfig) (*FareTable, error) {
	if !fourDigits(cfg.StationCode) {
		return nil, errFareTable("station_code must be 4 digits")
	}
	if err := cfg.Rule.validate(); err != nil {
		return nil, err
	}
	if len(cfg.Destinations) == 0 {
		return nil, errFareTable("no destinations")
	}
	t := &FareTable{cfg: cfg, byCode: map[string]Destination{}}
	for _, d := range cfg.Destinations {
		n := utf8.RuneCountInString(strings.TrimSpace(d.NameZH))
		switch {
		case !fourDigits(d.Code) || d.Code == cfg.StationCode:
			return nil, errFareTable(fmt.Sprintf("destination code %q must be 4 digits and not this station", d.Code))
		case n == 0 || n > 32 || utf8.RuneCountInString(d.NameEN) > 64:
			return nil, errFareTable("destination " + d.Code + " needs a name_zh of 1–32 characters")
		case !(d.Km > 0) || d.Km > 500:
			return nil, errFareTable("destination " + d.Code + " needs a distance of 0–500 km")
		}
		if _, dup := t.byCode[d.Code]; dup {
			return nil, errFareTable("destination " + d.Code + " appears twice")
		}
		t.byCode[d.Code] = d
	}
	t.cfg.Destinations = append([]Destination(nil), cfg.Destinations...)
	return t, nil
}

// StationCode returns the selling station's 4-digit code (the ticket's
// origin).
func (t *FareTable) StationCode() string { return t.cfg.StationCode }

// StationName returns the selling station's name in l.
func (t *FareTable) StationName(l Lang) string {
	if l == LangEN && t.cfg.StationNameEN != "" {
		return t.cfg.StationNameEN
	}
	return t.cfg.StationNameZH
}

// Destinations returns the destinations in configured order.
func (t *FareTable) Destinations() []Destination {
	return append([]Destination(nil), t.cfg.Destinations...)
}

// Destination returns the destination with code.
func (t *FareTable) Destination(code string) (Destination, bool) {
	d, ok := t.byCode[code]
	return d, ok
}

// FareTo returns the fare in fen to the destination with code; false for
// an unknown code.
func (t *FareTable) FareTo(code string) (int64, bool) {
	d, ok := t.byCode[code]
	if !ok {
		return 0, false
	}
	return t.cfg.Rule.FareFen(d.Km), true
}

// Fares returns the distinct fares (fen) of the destinations, ascending:
// the "choose a fare" buttons for a rider who knows the fare but not the
// station.
func (t *FareTable) Fares() []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, d := range t.cfg.Destinations {
		f := t.cfg.Rule.FareFen(d.Km)
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// ValidFare reports whether fen is one of Fares.
func (t *FareTable) ValidFare(fen int64) bool {
	for _, f := range t.Fares() {
		if f == fen {
			return true
		}
	}
	return false
}

// Yuan formats fen as "4元" (whole yuan) or "4.50元".
func Yuan(fen int64) string {
	if fen%100 == 0 {
		return fmt.Sprintf("%d元", fen/100)
	}
	return fmt.Sprintf("%d.%02d元", fen/100, fen%100)
}

// YuanEN formats fen as "CNY 4" or "CNY 4.50".
func YuanEN(fen int64) string {
	if fen%100 == 0 {
		return fmt.Sprintf("CNY %d", fen/100)
	}
	return fmt.Sprintf("CNY %d.%02d", fen/100, fen%100)
}
