package app

import (
	"context"
	"time"
)

// DemoCentral is the simulator panel's handle on the embedded central
// simulator (demo mode only): switch the link off and on to show offline
// behaviour, read the verification codes the simulator "sent" to holders'
// phones, and change a demo rider's health. Implementations are safe for
// concurrent use.
type DemoCentral interface {
	// Online reports whether the simulated central answers.
	Online() bool
	// SetOnline switches the simulated central on (true) or into an
	// outage (false): connections are closed without an answer.
	SetOnline(on bool)
	// ProxyCodes lists the current verification codes by masked phone.
	ProxyCodes(ctx context.Context) ([]DemoProxyCode, error)
	// SetRiderHealth sets demo rider key's colour and the age of the last
	// negative test (0: no test).
	SetRiderHealth(ctx context.Context, riderKey string, c HealthColor, testAge time.Duration) error
}

// DemoProxyCode is one verification code as the simulator panel shows it.
// Phone is masked (e.g. 138****0001).
type DemoProxyCode struct {
	Phone string
	Code  string
}

// DemoGate is a simulated gate attached to the station's verify service in
// demo mode: it signs real requests with its own gate key and sends them to
// the running service over loopback, as a gate vendor's device would.
type DemoGate interface {
	// GateID is the simulated gate's id.
	GateID() string
	// TapCard presents a transit card number at the gate.
	TapCard(ctx context.Context, cardNumber string) (DemoGateResult, error)
	// ScanRideQR presents a freshly issued ride-QR code of demo rider key
	// (expired=true: one issued long enough ago to have expired).
	ScanRideQR(ctx context.Context, riderKey string, expired bool) (DemoGateResult, error)
}

// DemoGateResult is what the simulated gate received: the answer and how
// long the round trip took. CacheAge is as reported by the service.
type DemoGateResult struct {
	Answer   GateAnswer
	CacheAge time.Duration
	Latency  time.Duration
}
