package central_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/app/demo"
	"stationdesk/offline/central"
	"stationdesk/offline/sim/centralsim"
)

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) ca {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return ca{c, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate for 127.0.0.1 (server) or a client.
func (c ca) issue(t *testing.T, client bool) (tls.Certificate, []byte, []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	if client {
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPEM, keyPEM
}

func startSim(t *testing.T, tc *tls.Config) *centralsim.Server {
	t.Helper()
	s, err := centralsim.New(centralsim.Config{DataDir: t.TempDir(), TLS: tc})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestTLSPinnedCA: only the pinned CA is trusted; a client certificate is
// presented when configured and required by the server.
func TestTLSPinnedCA(t *testing.T) {
	good, other := newCA(t, "station-ca"), newCA(t, "rogue-ca")
	srvCert, _, _ := good.issue(t, false)
	clientPool := x509.NewCertPool()
	clientPool.AddCert(good.cert)
	sim := startSim(t, &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientCAs: clientPool, ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12})
	dir := t.TempDir()
	_, cpem, kpem := good.issue(t, true)
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, cpem, 0o600)
	os.WriteFile(keyFile, kpem, 0o600)
	ctx := context.Background()
	tests := []struct {
		name   string
		cfg    central.Config
		reason string
	}{
		{"PinnedCAOK", central.Config{CAPEM: good.pem}, ""},
		{"PinnedCAWithClientCertOK", central.Config{CAPEM: good.pem, ClientCertFile: certFile, ClientKeyFile: keyFile}, ""},
		{"OtherCARefusedNothingSent", central.Config{CAPEM: other.pem}, "offline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.BaseURL, cfg.StationToken = sim.URL(), centralsim.DefaultStationToken
			c, err := central.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Policy(ctx)
			if app.ErrorReason(err) != tc.reason {
				t.Fatalf("err %v, want reason %q", err, tc.reason)
			}
		})
	}
	if _, err := central.New(central.Config{BaseURL: sim.URL()}); err == nil {
		t.Fatal("https without a pinned CA accepted")
	}
	if _, err := central.New(central.Config{BaseURL: "ftp://x"}); err == nil {
		t.Fatal("bad URL accepted")
	}
}

// TestClientOutcomes: classification of answers the client cannot use.
func TestClientOutcomes(t *testing.T) {
	sim := startSim(t, nil)
	ctx := context.Background()
	r, _ := demo.RiderByKey("green-72h")
	tests := []struct {
		name   string
		cfg    func(*central.Config)
		faults centralsim.Faults
		call   func(c *central.Client) error
		code   app.Code
		reason string
	}{
		{name: "WrongTokenUnauthorized", cfg: func(c *central.Config) { c.StationToken = "wrong" },
			call: func(c *central.Client) error { _, err := c.Policy(ctx); return err }, code: app.CodeUnauthorized, reason: "unauthorized"},
		{name: "AnswerOverCapUnknown", cfg: func(c *central.Config) { c.MaxResponseBytes = 32 },
			call: func(c *central.Client) error { _, err := c.PersonBindings(ctx, r.Identity.Doc); return err }, code: app.CodeUnavailable, reason: "outcome_unknown"},
		{name: "TruncatedQueryUnknown", faults: centralsim.Faults{TruncateNext: 1},
			call: func(c *central.Client) error { _, err := c.HealthStatus(ctx, r.Identity.Doc); return err }, code: app.CodeUnavailable, reason: "outcome_unknown"},
		{name: "RateLimitedAfterRetries", faults: centralsim.Faults{RateLimitNext: 10},
			call: func(c *central.Client) error { _, err := c.Policy(ctx); return err }, code: app.CodeUnavailable, reason: "rate_limited"},
		{name: "NotFoundCard", call: func(c *central.Client) error { _, err := c.CardStatus(ctx, "9999999999"); return err }, code: app.CodeNotFound, reason: "not_found"},
		{name: "InvalidCardNotSent", call: func(c *central.Client) error { _, err := c.CardStatus(ctx, "12"); return err }, code: app.CodeInvalid, reason: "invalid_card_number"},
		{name: "WrongCode", call: func(c *central.Client) error { return c.VerifyProxyCode(ctx, r.Identity.Doc, "000000") }, code: app.CodeInvalid, reason: "code_mismatch"},
		{name: "BindWithoutKeyRefusedLocally", call: func(c *central.Client) error {
			_, err := c.Bind(ctx, "", app.BindRequest{CardNumber: "1000200002", Holder: r.Identity.Doc})
			return err
		}, code: app.CodeInternal, reason: "missing_key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := central.Config{BaseURL: sim.URL(), StationToken: centralsim.DefaultStationToken, RetryWait: time.Millisecond, RetryMaxWait: 5 * time.Millisecond}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			c, err := central.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			sim.SetFaults(tc.faults)
			defer sim.SetFaults(centralsim.Faults{})
			err = tc.call(c)
			if app.ErrorCode(err) != tc.code || app.ErrorReason(err) != tc.reason {
				t.Fatalf("err %v (%s/%s), want %s/%s", err, app.ErrorCode(err), app.ErrorReason(err), tc.code, tc.reason)
			}
		})
	}
}

// TestBreakerAndStatusBoard: failures open the circuit (status bar
// offline, calls fail fast without sending), a probe after the cooldown
// closes it again (status ready).
func TestBreakerAndStatusBoard(t *testing.T) {
	sim := startSim(t, nil)
	ctx := context.Background()
	board := app.NewStatusBoard(app.SystemClock{})
	clock := app.NewFakeClock(time.Now())
	c, err := central.New(central.Config{BaseURL: sim.URL(), StationToken: centralsim.DefaultStationToken, Status: board, Clock: clock,
		BreakerFailures: 2, BreakerCooldown: time.Minute, RetryWait: time.Millisecond, RetryMaxWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if board.Get(app.CompCentral).State != app.StateConnecting {
		t.Fatal("not connecting at start")
	}
	if err := c.Probe(ctx); err != nil || board.Get(app.CompCentral).State != app.StateReady || !c.Online() {
		t.Fatalf("probe: %v %v", err, board.Get(app.CompCentral))
	}
	sim.SetFaults(centralsim.Faults{Outage: true})
	c.Probe(ctx)
	if board.Get(app.CompCentral).State != app.StateDegraded {
		t.Fatalf("after 1 failure: %v", board.Get(app.CompCentral).State)
	}
	c.Probe(ctx)
	if board.Get(app.CompCentral).State != app.StateOffline || c.Online() {
		t.Fatalf("after 2 failures: %v", board.Get(app.CompCentral).State)
	}
	sim.SetFaults(centralsim.Faults{})
	// Open: fails fast with "offline" (nothing sent) although central is back.
	if err := c.Probe(ctx); app.ErrorReason(err) != "offline" {
		t.Fatalf("open circuit: %v", err)
	}
	clock.Advance(2 * time.Minute)
	if err := c.Probe(ctx); err != nil || board.Get(app.CompCentral).State != app.StateReady {
		t.Fatalf("half-open probe: %v %v", err, board.Get(app.CompCentral).State)
	}
}
