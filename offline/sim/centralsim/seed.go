package centralsim

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"stationdesk/app/demo"
)

// seedDemoIfEmpty stores the demo riders (app/demo) and the loose demo
// cards when the database has no person yet (a new simulator data folder).
func (s *Server) seedDemoIfEmpty(ctx context.Context) error {
	var n int
	if err := s.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM persons`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	now := s.clock.Now()
	if err := s.AddRiders(ctx, DemoRiders(now)); err != nil {
		return err
	}
	known := map[string]bool{}
	for _, r := range demo.Riders() {
		for _, c := range r.Cards {
			known[c.Number] = true
		}
	}
	for _, c := range demo.Cards() {
		if known[c.Number] {
			continue
		}
		if err := s.AddCard(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// DemoRiders converts app/demo's riders (health as of now) to Riders.
func DemoRiders(now time.Time) []Rider {
	var out []Rider
	for _, d := range demo.Riders() {
		r := Rider{Key: d.Key, Doc: d.Identity.Doc, Name: d.Identity.Name, Phone: d.Phone,
			Health: d.HealthAt(now), Welfare: d.Welfare, ProxyUsed: d.ProxyUsed}
		for _, c := range d.Cards {
			r.Cards = append(r.Cards, RiderCard{Card: c, Bound: slices.Contains(d.Bound, c.Number)})
		}
		out = append(out, r)
	}
	return out
}

// addProxyUses records n earlier proxy bindings by a helper (seed data).
func addProxyUses(ctx context.Context, tx *sql.Tx, helperKey string, n int, at time.Time) error {
	for range n {
		if _, err := tx.ExecContext(ctx, `INSERT INTO proxy_uses(helper_doc_key, card_number, at) VALUES (?, '', ?)`, helperKey, at.UnixMilli()); err != nil {
			return err
		}
	}
	return nil
}
