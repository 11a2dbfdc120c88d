package centralsim

import (
	"context"
	"time"

	"stationdesk/app"
)

// DemoControl adapts the simulator to app.DemoCentral for the GUI's
// simulator panel in demo mode.
type DemoControl struct{ s *Server }

var _ app.DemoCentral = (*DemoControl)(nil)

// DemoControl returns the panel's handle on s.
func (s *Server) DemoControl() *DemoControl { return &DemoControl{s: s} }

// Online reports whether the simulator answers (no outage switched on).
func (d *DemoControl) Online() bool { return !d.s.Faults().Outage }

// SetOnline switches an outage off (true) or on (false); other fault
// switches are left as they are.
func (d *DemoControl) SetOnline(on bool) {
	f := d.s.Faults()
	f.Outage = !on
	d.s.SetFaults(f)
}

// ProxyCodes lists the verification codes by masked phone.
func (d *DemoControl) ProxyCodes(ctx context.Context) ([]app.DemoProxyCode, error) {
	codes, err := d.s.ProxyCodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]app.DemoProxyCode, 0, len(codes))
	for _, c := range codes {
		out = append(out, app.DemoProxyCode{Phone: c.PhoneMasked, Code: c.Code})
	}
	return out, nil
}

// SetRiderHealth sets a demo rider's colour and the age of their last
// negative test (0: none).
func (d *DemoControl) SetRiderHealth(ctx context.Context, riderKey string, c app.HealthColor, testAge time.Duration) error {
	h := app.HealthStatus{Color: c}
	if testAge > 0 {
		h.LastNegative = d.s.clock.Now().Add(-testAge)
	}
	return d.s.SetHealth(ctx, riderKey, h)
}
