package app

import "time"

// HealthColor is the Beijing health-kit code colour.
type HealthColor string

// Health colours. ColorNone means the person has no Beijing health-kit
// account (a visitor): only a manual check can admit them.
const (
	ColorGreen  HealthColor = "green"
	ColorYellow HealthColor = "yellow"
	ColorRed    HealthColor = "red"
	ColorNone   HealthColor = "none"
)

// HealthStatus is what the central backend (or the station's cached copy)
// says about a document holder. It is sensitive personal information: it is
// never written to logs or gate responses.
type HealthStatus struct {
	Color        HealthColor
	LastNegative time.Time // time of the last negative NAT sample; zero if none known
	AsOf         time.Time // when the backend produced this status
}

// TestWithin reports whether the last negative test lies within window
// before now (e.g. 48 h), and not in the future beyond a small clock skew.
func (h HealthStatus) TestWithin(window time.Duration, now time.Time) bool {
	return NATWithin(h.LastNegative, window, now)
}

// NATWithin reports whether a test taken at t is inside the window ending
// at now. A zero t is never inside; a t more than 5 minutes in the future is
// rejected as a clock or data error rather than trusted.
func NATWithin(t time.Time, window time.Duration, now time.Time) bool {
	if t.IsZero() || t.After(now.Add(5*time.Minute)) {
		return false
	}
	return now.Sub(t) <= window
}

// Policy holds the thresholds the central backend sets (docs/rules.md: they are
// parameters, not constants).
type Policy struct {
	NATWindow        time.Duration // default 48 h
	StatusStaleAfter time.Duration // how old a cached status may be for a sale; default 1 h
	CacheWarnAfter   time.Duration // gate cache: warn after; default 10 min
	CacheManualAfter time.Duration // gate cache: answer "manual" after; default 6 h
	ProxyLimit       int           // cards one helper may upgrade for others; default 5
}

// DefaultPolicy is used until the backend sends its own.
func DefaultPolicy() Policy {
	return Policy{
		NATWindow:        48 * time.Hour,
		StatusStaleAfter: time.Hour,
		CacheWarnAfter:   10 * time.Minute,
		CacheManualAfter: 6 * time.Hour,
		ProxyLimit:       5,
	}
}
