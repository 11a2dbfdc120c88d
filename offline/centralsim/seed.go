package centralsim

import (
	"context"
	"time"
)

// seedDemoIfEmpty stores the demo riders when the database has no person
// yet (a new simulator data folder).
func (s *Server) seedDemoIfEmpty(ctx context.Context) error {
	var n int
	if err := s.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM persons`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	rs := DemoRiders(s.clock.Now())
	if len(rs) == 0 {
		return nil
	}
	return s.AddRiders(ctx, rs)
}

// DemoRiders returns the seeded demo riders as of now.
func DemoRiders(now time.Time) []Rider {
	return nil
}
