package syncpub

import (
	"context"
	"fmt"
	"sync"
	"time"

	"stationdesk/app"
)

// Synthetic is a deterministic synthetic city: n cards held by about 2n/3
// persons (every other person has a physical and an NFC card), with a
// realistic colour mix (≈90 % green, 4 % yellow, 2 % red, 4 % without a
// health-kit account), tests spread over the last 72 h and 0.5 % of cards
// blocked. The same (n, seed, now) always gives the same city.
// Changes are generated on demand with Generate.
type Synthetic struct {
	n       int
	persons int
	seed    uint64
	base    time.Time

	mu      sync.Mutex
	changes []Change
	head    uint64
	rng     uint64
}

// NewSynthetic returns a synthetic city of n cards. base is the "now" the
// test times are relative to (use a fixed time for reproducible figures).
func NewSynthetic(n int, seed int64, base time.Time) *Synthetic {
	return &Synthetic{n: n, persons: SyntheticPersons(n), seed: uint64(seed), base: base.Truncate(time.Minute), head: 1, rng: uint64(seed) ^ 0x9e3779b97f4a7c15}
}

// SyntheticPersons is the number of persons in a synthetic city of n cards.
func SyntheticPersons(n int) int { return (2*n + 2) / 3 }

// SyntheticCardNumber is the card number of synthetic card i (0-based).
func SyntheticCardNumber(i int) string { return fmt.Sprintf("10007510%08d", i) }

// SyntheticPersonOf is the person key holding synthetic card i.
func SyntheticPersonOf(i int) uint64 { return uint64(i*2/3) + 1 }

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// SyntheticHealth returns the generated health of person p.
func (s *Synthetic) SyntheticHealth(p uint64) PersonHealth {
	r := splitmix(p ^ s.seed<<1)
	h := PersonHealth{Person: p}
	switch c := r % 100; {
	case c < 90:
		h.Color = app.ColorGreen
	case c < 94:
		h.Color = app.ColorYellow
	case c < 96:
		h.Color = app.ColorRed
	default:
		h.Color = app.ColorNone
	}
	if h.Color != app.ColorNone {
		h.LastNegative = s.base.Add(-time.Duration((r>>8)%(72*60)) * time.Minute)
	}
	return h
}

func (s *Synthetic) binding(i int) CardBinding {
	r := splitmix(uint64(i) ^ s.seed<<2 ^ 0x5bd1e995)
	return CardBinding{CardNumber: SyntheticCardNumber(i), Person: SyntheticPersonOf(i), Blocked: r%200 == 0}
}

// Snapshot implements Source. Rows of the initial city have seq 1.
func (s *Synthetic) Snapshot(ctx context.Context, card func(CardBinding) error, person func(PersonHealth) error) (uint64, error) {
	s.mu.Lock()
	if len(s.changes) > 0 {
		s.mu.Unlock()
		return 0, fmt.Errorf("synthetic snapshot after changes is not supported")
	}
	s.mu.Unlock()
	for i := 0; i < s.n; i++ {
		if i%65536 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err := card(s.binding(i)); err != nil {
			return 0, err
		}
	}
	for p := 1; p <= s.persons; p++ {
		if err := person(s.SyntheticHealth(uint64(p))); err != nil {
			return 0, err
		}
	}
	return 1, nil
}

// Generate appends k random person health changes at time at (new tests,
// colour changes) and returns the new head.
func (s *Synthetic) Generate(k int, at time.Time) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < k; i++ {
		s.rng = splitmix(s.rng)
		p := s.rng%uint64(s.persons) + 1
		h := PersonHealth{Person: p, Color: app.ColorGreen, LastNegative: at.Add(-time.Duration(s.rng>>40%600) * time.Minute)}
		if s.rng>>20%50 == 0 {
			h.Color = app.ColorYellow
		}
		s.head++
		s.changes = append(s.changes, Change{Seq: s.head, At: at, Person: &h})
	}
	return s.head
}

// Changes implements Source.
func (s *Synthetic) Changes(ctx context.Context, after uint64, fn func(Change) error) (uint64, error) {
	s.mu.Lock()
	chs := s.changes
	head := s.head
	s.mu.Unlock()
	// changes[i].Seq == i+2
	start := 0
	if after >= 2 {
		start = int(after - 1)
	}
	for i := start; i < len(chs); i++ {
		if err := fn(chs[i]); err != nil {
			return 0, err
		}
	}
	return head, nil
}

// Inject appends one explicit change (its Seq is assigned) and returns the
// new head. For tests and the simulator's "turn this rider red" switch.
func (s *Synthetic) Inject(c Change) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.head++
	c.Seq = s.head
	s.changes = append(s.changes, c)
	return s.head
}
