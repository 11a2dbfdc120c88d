package verify

import (
	"context"
	"time"

	"stationdesk/app"
)

var _ app.GateService = (*Server)(nil)
var _ app.GateOutlooker = (*Server)(nil)

// Mode returns the current mode.
func (s *Server) Mode() app.GateMode { return *s.mode.Load() }

// SetMode switches the mode (supervisor only — the GUI checks the role;
// this records who did it in the audit log).
func (s *Server) SetMode(m app.GateMode, operator string) error {
	old := s.Mode()
	err := s.cfg.Keys.SetMode(m)
	if err == nil {
		s.mode.Store(&m)
	}
	s.auditAdmin(app.ActConfigChange, operator, "gate.mode", "from="+string(old)+" to="+string(m), err)
	return err
}

// Gates lists gates with last-seen time and the previous minute's rate.
func (s *Server) Gates() []app.GateInfo {
	out := s.cfg.Keys.Gates()
	now := s.now().Unix() / 60
	for i := range out {
		if v, ok := s.gates.Load(out[i].ID); ok {
			g := v.(*gateStats)
			if ms := g.lastSeen.Load(); ms > 0 {
				out[i].LastSeen = time.UnixMilli(ms)
			}
			switch g.minute.Load() {
			case now:
				out[i].PerMin = float64(g.prev.Load())
			case now - 1:
				out[i].PerMin = float64(g.count.Load())
			}
		}
	}
	return out
}

// AddGate commissions a gate and returns its key once (hex).
func (s *Server) AddGate(id, operator string) (string, error) {
	k, err := s.cfg.Keys.Add(id)
	s.auditAdmin(app.ActConfigChange, operator, "gate:"+safeGate(id), "gate.add", err)
	return k, err
}

// RotateGate adds a second key to a gate and returns it once (hex).
func (s *Server) RotateGate(id, operator string) (string, error) {
	k, err := s.cfg.Keys.Rotate(id)
	s.auditAdmin(app.ActConfigChange, operator, "gate:"+safeGate(id), "gate.rotate", err)
	return k, err
}

// RevokeGate revokes all of a gate's keys.
func (s *Server) RevokeGate(id, operator string) error {
	err := s.cfg.Keys.Revoke(id)
	s.auditAdmin(app.ActConfigChange, operator, "gate:"+safeGate(id), "gate.revoke", err)
	return err
}

// Recent returns the last n answers, newest first (no personal data).
func (s *Server) Recent(n int) []app.GateEvent { return s.recent.last(n) }

// Freshness returns the cache version and freshness.
func (s *Server) Freshness() app.CacheFreshness { return s.cfg.Lookup.Freshness() }

// Policy returns central's policy from the last verified manifest, or the
// default before the first sync (the same the decisions use).
func (s *Server) Policy() app.Policy { return s.policy() }

// Outbox returns the gate-event backlog (zero without an outbox).
func (s *Server) Outbox() app.OutboxStats {
	if s.cfg.OutboxStats == nil {
		return app.OutboxStats{}
	}
	return s.cfg.OutboxStats()
}

// WatchRegistry re-reads the gate registry every interval until ctx ends,
// so a change made by `stationdesk gates` (another process) takes effect
// without a restart: new keys are accepted, revoked ones refused, and the
// mode follows.
func (s *Server) WatchRegistry(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.ReloadRegistry()
		}
	}
}

// ReloadRegistry picks up another process's change to the registry now.
func (s *Server) ReloadRegistry() {
	changed, err := s.cfg.Keys.Reload()
	if err != nil {
		s.log.Warn("gate registry reload", "err", err)
		return
	}
	if !changed {
		return
	}
	m := s.cfg.Keys.Mode()
	if old := s.Mode(); old != m {
		s.log.Info("gate mode changed in the registry", "from", old, "to", m)
	}
	s.mode.Store(&m)
	s.log.Info("gate registry reloaded", "gates", len(s.cfg.Keys.Gates()))
}
