// Package centralsim is the central backend simulator: a real HTTP server
// that implements offline/central/openapi.yaml on its own SQLite file. Demo
// mode embeds it on a loopback port, tests drive it over real HTTP, and
// `stationdesk centralsim --listen ADDR --data DIR` runs it alone.
//
// It is authoritative for the binding rules (one ordinary physical and one
// NFC card per person, at most Policy.ProxyLimit proxy bindings per helper,
// non-upgradeable kinds refused, special cards auto-upgraded, transport-union
// cards accepted, a card bound to another person refused) and honours
// idempotency keys (same key + same body → the stored answer; same key +
// different body → 422 idempotency_conflict).
//
// Fault switches (Faults: latency, error rate, outage, 429, truncated body,
// drop-after-commit) are set with SetFaults or PUT /admin/faults; the admin
// API (bearer admin token) also changes a demo rider's health and lists the
// demo verification codes. Proxy verification codes are deterministic per
// phone: ProxyCodeFor.
//
// Privacy: the simulator stores no full document number or name — persons
// are found by an HMAC of their document and shown by masked copies — and
// never logs request bodies.
package centralsim

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"stationdesk/app"
	"stationdesk/offline/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DefaultStationToken is the station token the simulator accepts when
// Config.StationTokens is empty; demo mode's client uses it.
const DefaultStationToken = "demo-station-token"

// DBFile is the simulator's SQLite file name inside Config.DataDir.
const DBFile = "centralsim.db"

// Config configures New.
type Config struct {
	// DataDir holds the SQLite file (DBFile). Required.
	DataDir string
	// StationTokens maps accepted bearer station tokens to station ids.
	// Empty: {DefaultStationToken: "demo-station"}.
	StationTokens map[string]string
	// AdminToken protects /admin/*. Empty: a random token (AdminToken()).
	AdminToken string
	// Policy is served at /v1/policy and applied (ProxyLimit). Zero:
	// app.DefaultPolicy().
	Policy app.Policy
	// NoDemo skips seeding the demo riders into a new database.
	NoDemo bool
	// TLS, when set, makes Start serve HTTPS with this config.
	TLS *tls.Config
	// Clock and Logger default to the system clock and a discarding logger.
	Clock  app.Clock
	Logger *slog.Logger
}

// Server is the simulator. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	db      *store.DB
	clock   app.Clock
	log     *slog.Logger
	policy  app.Policy
	docKey  []byte
	handler http.Handler

	wmu sync.Mutex // serialises keyed writes in arrival order

	fmu    sync.Mutex
	faults Faults
	rnd    uint64 // xorshift state for ErrorRate

	smu  sync.Mutex
	srv  *http.Server
	ln   net.Listener
	url  string
	done chan struct{}

	mounts []mount
}

type mount struct {
	prefix string
	h      http.Handler
}

// New opens (creating if needed) the simulator's database in cfg.DataDir,
// applies its migrations and, for a new database, seeds the demo riders.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("centralsim: DataDir is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = app.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.StationTokens) == 0 {
		cfg.StationTokens = map[string]string{DefaultStationToken: "demo-station"}
	}
	if cfg.AdminToken == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("centralsim: admin token: %w", err)
		}
		cfg.AdminToken = hex.EncodeToString(b)
	}
	if cfg.Policy == (app.Policy{}) {
		cfg.Policy = app.DefaultPolicy()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("centralsim: data dir: %w", err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(cfg.DataDir, DBFile), store.Options{
		// NORMAL: the simulator stands in for a remote backend whose
		// durability is not ours to test; a commit is still atomic and
		// survives a crash of the simulator process (WAL), only not a
		// power cut. It keeps the per-bind cost low under 50 desks.
		Durability: store.DurabilityNormal,
		Migrations: sub,
		ReadConns:  8,
		Clock:      cfg.Clock,
		Logger:     cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("centralsim: %w", err)
	}
	s := &Server{
		cfg:    cfg,
		db:     db,
		clock:  cfg.Clock,
		log:    cfg.Logger,
		policy: cfg.Policy,
		// The document key is fixed so that a restarted simulator finds the
		// persons it stored; it protects nothing real (demo data only).
		docKey: []byte("centralsim-document-key-v1"),
		rnd:    uint64(cfg.Clock.Now().UnixNano()) | 1,
	}
	if !cfg.NoDemo {
		if err := s.seedDemoIfEmpty(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	s.handler = s.routes()
	return s, nil
}

// AdminToken returns the bearer token of /admin/*.
func (s *Server) AdminToken() string { return s.cfg.AdminToken }

// DB returns the simulator's store (for tests and the sync source).
func (s *Server) DB() *store.DB { return s.db }

// Handler returns the HTTP handler (the contract plus /admin and mounts).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Mount serves h for every path under prefix (e.g. "/v1/sync/"), behind
// the station-token check and the fault switches. Call it before Start.
// This is how offline/sim/syncpub's publisher is attached.
func (s *Server) Mount(prefix string, h http.Handler) {
	s.smu.Lock()
	s.mounts = append(s.mounts, mount{prefix, h})
	s.smu.Unlock()
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background
// until ctx ends or Stop/Close is called. It returns once the listener is
// open; URL then gives the base URL. Start after Stop serves again (on the
// same address if addr names a fixed port).
func (s *Server) Start(ctx context.Context, addr string) error {
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.srv != nil {
		return errors.New("centralsim: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("centralsim: listen: %w", err)
	}
	scheme := "http"
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
		scheme = "https"
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.srv, s.ln, s.url = srv, ln, scheme+"://"+ln.Addr().String()
	done := make(chan struct{})
	s.done = done
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-done:
		}
	}()
	s.log.Info("central simulator listening", "url", s.url)
	return nil
}

// URL returns the base URL ("http://127.0.0.1:PORT") of the running server,
// or of the last run after Stop.
func (s *Server) URL() string {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.url
}

// Addr returns the listening address ("127.0.0.1:PORT"), "" before Start.
func (s *Server) Addr() string {
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop closes the listener and every connection at once (a central outage
// as the station sees it); the database stays open and Start may be called
// again.
func (s *Server) Stop() {
	s.smu.Lock()
	srv, done := s.srv, s.done
	s.srv, s.ln = nil, nil
	s.smu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	<-done
}

// Close stops the server and closes the database.
func (s *Server) Close() error {
	s.Stop()
	return s.db.Close()
}

// docKeyOf is the simulator's lookup key of a document: HMAC-SHA256 over
// type and canonical number (passports: nationality too).
func (s *Server) docKeyOf(d app.DocNumber) string {
	m := hmac.New(sha256.New, s.docKey)
	m.Write([]byte(d.Type()))
	m.Write([]byte{0})
	m.Write([]byte(d.Nationality()))
	m.Write([]byte{0})
	m.Write([]byte(d.Reveal()))
	return hex.EncodeToString(m.Sum(nil))
}

// ProxyCodeFor is the simulator's verification code for a phone number:
// HMAC-SHA256(key "centralsim-proxy-code", phone), first 4 bytes big-endian,
// mod 1 000 000, as 6 digits. Deterministic so demos and tests can type it;
// the admin API lists it per demo rider.
func ProxyCodeFor(phone string) string {
	m := hmac.New(sha256.New, []byte("centralsim-proxy-code"))
	m.Write([]byte(phone))
	b := m.Sum(nil)
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) % 1000000
	return fmt.Sprintf("%06d", v)
}

// maskPhone keeps the first 3 and last 4 digits (docs/storage-privacy.md).
func maskPhone(p string) string {
	if len(p) < 8 {
		return app.MaskCardNumber(p)
	}
	out := []byte(p)
	for i := 3; i < len(out)-4; i++ {
		out[i] = '*'
	}
	return string(out)
}
