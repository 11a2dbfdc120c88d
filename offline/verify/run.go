package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"stationdesk/app"
	"stationdesk/offline/cache"
	"stationdesk/offline/central"
	"stationdesk/offline/gatesync"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/gateevents"
	"stationdesk/offline/syncwire"
)

// ServeConfig is the TOML configuration of `stationdesk serve --config
// FILE` (and of the GUI's embedded gate service). Example:
//
//	data_dir   = "/var/lib/stationdesk"
//	listen     = "10.20.0.2:8443"   # the gate VLAN address only
//	mode       = "test"             # initial mode; later changes persist
//	station_id = "st-0101"
//	max_conns  = 512
//	max_conns_per_ip = 16             # connections per source address
//	status_listen = "127.0.0.1:9100"  # /healthz, /metrics apart (optional)
//	tls_cert   = "/var/lib/stationdesk/gate/tls-cert.pem"  # optional (gates cert)
//	tls_key    = "/var/lib/stationdesk/gate/tls-key.pem"
//	keys_dir   = "/var/lib/stationdesk" # station-keys.json (default data_dir)
//	[central]
//	url                 = "https://central.example"
//	token_file          = "/etc/stationdesk/central.token"
//	ca_file             = "/etc/stationdesk/central-ca.pem"
//	manifest_public_key = "base64 Ed25519 public key (pinned)"
type ServeConfig struct {
	DataDir   string       `toml:"data_dir"`
	Listen    string       `toml:"listen"`
	Mode      app.GateMode `toml:"mode"`
	StationID string       `toml:"station_id"`
	MaxConns  int          `toml:"max_conns"`
	// MaxConnsPerIP bounds the connections of one source address (default 16).
	MaxConnsPerIP int `toml:"max_conns_per_ip"`
	// StatusListen, when set, serves /healthz and /metrics on this address
	// only (the gate listener then answers them 404).
	StatusListen string `toml:"status_listen"`
	// TLSCert and TLSKey (PEM files), when both set, serve the gate
	// listener over TLS; gates pin the certificate's SHA-256
	// (`stationdesk gates cert` makes one).
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// KeysDir is the folder of station-keys.json (default DataDir): the
	// gate registry's keys are sealed with a key derived from it.
	KeysDir string `toml:"keys_dir"`
	// CacheOnDisk keeps the gate cache's big tables out of memory: every
	// look-up then reads the cache file. By default they are also held in
	// memory (about 17 B per card and 16 B per person, some 800 MiB for
	// the whole city), which makes an answer cost about a third less CPU;
	// a PC that cannot spare that memory sets this.
	CacheOnDisk bool `toml:"cache_on_disk"`
	Central     struct {
		URL               string `toml:"url"`
		TokenFile         string `toml:"token_file"`
		CAFile            string `toml:"ca_file"`
		ManifestPublicKey string `toml:"manifest_public_key"`
	} `toml:"central"`
}

// LoadServeConfig reads and checks a config file.
func LoadServeConfig(path string) (ServeConfig, error) {
	var c ServeConfig
	if _, err := toml.DecodeFile(path, &c); err != nil {
		return c, fmt.Errorf("config %s: %w", filepath.Base(path), err)
	}
	if c.DataDir == "" || c.Listen == "" || c.Central.URL == "" {
		return c, errors.New("config: data_dir, listen and central.url are required")
	}
	if c.Mode == "" {
		c.Mode = app.ModeTest
	}
	if !c.Mode.Valid() {
		return c, errors.New("config: mode must be off, test or enforce")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return c, errors.New("config: tls_cert and tls_key go together")
	}
	if c.MaxConnsPerIP < 0 {
		return c, errors.New("config: max_conns_per_ip must be positive")
	}
	return c, nil
}

// Deps are optional collaborators from the composition root.
type Deps struct {
	Clock    app.Clock
	Logger   *slog.Logger
	Status   *app.StatusBoard
	Audit    app.AuditLog
	Progress func(app.SyncProgress)
	// PinnedKey overrides central.manifest_public_key (the composition
	// root passes the public demo key in demo mode only).
	PinnedKey ed25519.PublicKey
	// Listener overrides listen (tests, demo on a random loopback port).
	Listener net.Listener
	// StatusListener overrides status_listen (tests).
	StatusListener net.Listener
	// RegistrySeal is the gate registry's seal key (RegistryKey of the
	// station keys). Without it Start loads the station keys from
	// keys_dir (default data_dir); they are never created here.
	RegistrySeal *[32]byte
}

// Station is a running gate service: verify server, cache, sync client and
// gate-event outbox. Server implements app.GateService and Sync
// implements app.GateSync for the GUI.
type Station struct {
	Server *Server
	Sync   *gatesync.Client
	Cache  *cache.Cache
	Outbox *gateevents.Outbox
	Addr   net.Addr
	// StatusAddr is the status listener's address (nil without one).
	StatusAddr net.Addr

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan error
}

// Start opens everything under cfg.DataDir/gate and starts serving gates,
// syncing and uploading. Stop (or cancelling ctx) ends it.
func Start(ctx context.Context, cfg ServeConfig, d Deps) (*Station, error) {
	if d.Clock == nil {
		d.Clock = app.SystemClock{}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	pinned := d.PinnedKey
	if pinned == nil {
		b, err := base64.StdEncoding.DecodeString(cfg.Central.ManifestPublicKey)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, errors.New("config: central.manifest_public_key must be a base64 Ed25519 public key")
		}
		pinned = b
	}
	dir := filepath.Join(cfg.DataDir, "gate")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var token string
	if cfg.Central.TokenFile != "" {
		b, err := os.ReadFile(cfg.Central.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("central token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	st := &Station{errc: make(chan error, 4)}
	var err error
	if st.Cache, err = cache.Open(ctx, filepath.Join(dir, "cache.db"), cache.Options{Logger: d.Logger, NoMemIndex: cfg.CacheOnDisk}); err != nil {
		return nil, err
	}
	fail := func(e error) (*Station, error) {
		st.close()
		return nil, e
	}
	keys, err := OpenStationRegistry(cfg, d.RegistrySeal, d.Clock)
	if err != nil {
		return fail(err)
	}
	if keys.Migrated {
		d.Logger.Info("gate registry: clear keys sealed with the station key", "file", keys.Path())
	}
	mode, fromConfig, err := keys.ApplyConfigMode(cfg.Mode)
	if err != nil {
		return fail(err)
	}
	if fromConfig {
		d.Logger.Info("gate mode from the configuration", "mode", mode)
	} else {
		d.Logger.Info("gate mode from the gate registry (set by an operator; the configuration's mode is ignored)", "mode", mode, "config_mode", cfg.Mode)
	}
	var tlsCfg *tls.Config
	if cfg.TLSCert != "" {
		if tlsCfg, err = LoadTLS(cfg.TLSCert, cfg.TLSKey); err != nil {
			return fail(err)
		}
	}
	cc, err := central.New(central.Config{BaseURL: cfg.Central.URL, StationToken: token, CAFile: cfg.Central.CAFile, Clock: d.Clock, Logger: d.Logger})
	if err != nil {
		return fail(err)
	}
	if st.Outbox, err = gateevents.Open(ctx, gateevents.Options{Path: filepath.Join(dir, "outbox.db"), StationID: cfg.StationID, Uploader: cc, Clock: d.Clock, Logger: d.Logger}); err != nil {
		return fail(err)
	}
	st.Sync, err = gatesync.New(gatesync.Config{BaseURL: strings.TrimRight(cfg.Central.URL, "/") + "/v1/sync", Token: token, PinnedKey: pinned, Cache: st.Cache,
		Dir: filepath.Join(dir, "sync"), Clock: d.Clock, Logger: d.Logger, OnProgress: d.Progress, Status: d.Status})
	if err != nil {
		return fail(err)
	}
	lastOK := func() time.Duration { return st.Cache.Freshness().Age(d.Clock.Now()) }
	st.Server, err = New(Config{
		Lookup: st.Cache, Trust: TrustFromSync(st.Sync), Keys: keys, Events: st.Outbox, Audit: d.Audit, Clock: d.Clock, Logger: d.Logger,
		MaxConns: cfg.MaxConns, Conn: ConnLimits{PerIP: cfg.MaxConnsPerIP}, TLS: tlsCfg, Terminal: cfg.StationID,
		StatusSeparate: cfg.StatusListen != "" || d.StatusListener != nil,
		Gauges: Gauges{CacheAge: lastOK, CacheSeq: func() uint64 { return st.Cache.Freshness().Version }, SyncLag: lastOK,
			OutboxDepth: func() int64 { s, _ := st.Outbox.Stats(context.Background()); return s.Pending },
			ClockSkew:   func() (time.Duration, bool) { p := st.Sync.Progress(); return p.ClockSkew, p.SkewKnown }},
		OutboxStats: func() app.OutboxStats { s, _ := st.Outbox.Stats(context.Background()); return s },
	})
	if err != nil {
		return fail(err)
	}
	l := d.Listener
	if l == nil {
		if l, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fail(listenError(cfg.Listen, err))
		}
	}
	st.Addr = l.Addr()
	sl := d.StatusListener
	if sl == nil && cfg.StatusListen != "" {
		if sl, err = net.Listen("tcp", cfg.StatusListen); err != nil {
			l.Close()
			return fail(listenError(cfg.StatusListen, err))
		}
	}
	if sl != nil {
		st.StatusAddr = sl.Addr()
	}
	rctx, cancel := context.WithCancel(ctx)
	st.cancel = cancel
	run := func(f func(context.Context) error) {
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			if err := f(rctx); err != nil && !errors.Is(err, context.Canceled) {
				st.errc <- err
			}
		}()
	}
	run(func(c context.Context) error { return st.Server.Serve(c, l) })
	if sl != nil {
		run(func(c context.Context) error { return st.Server.ServeStatus(c, sl) })
	}
	run(func(c context.Context) error { st.Server.WatchRegistry(c, time.Second); return nil })
	run(st.Sync.Run)
	run(func(c context.Context) error { return st.Outbox.Run(c, 5*time.Second) })
	if d.Status != nil {
		d.Status.Set(app.CompGateService, app.StateReady, st.Addr.String())
	}
	d.Logger.Info("gate verify service listening", "addr", st.Addr.String(), "tls", tlsCfg != nil, "mode", st.Server.Mode(), "registry_sealed", keys.Sealed())
	return st, nil
}

// OpenStationRegistry opens DataDir/gate/gates.json sealed with the
// station key (seal, or the one in keys_dir / data_dir). Used by Start
// and by `stationdesk gates`.
func OpenStationRegistry(cfg ServeConfig, seal *[32]byte, clock app.Clock) (*KeyStore, error) {
	if seal == nil {
		kd := cfg.KeysDir
		if kd == "" {
			kd = cfg.DataDir
		}
		k, err := ledger.LoadKeys(kd)
		if err != nil {
			if app.ErrorReason(err) == "keys_missing" {
				return nil, app.WrapError(err, app.CodeNotFound, "keys_missing",
					"找不到站点密钥（"+kd+"）：请先运行 stationdesk setup，或在配置里设置 keys_dir。",
					"No station keys in "+kd+": run stationdesk setup first, or set keys_dir in the configuration.")
			}
			return nil, err
		}
		rk := RegistryKey(k.Enc)
		seal = &rk
	}
	dir := filepath.Join(cfg.DataDir, "gate")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return OpenRegistry(filepath.Join(dir, "gates.json"), KeyStoreOptions{Clock: clock, Seal: seal, Mode: cfg.Mode})
}

// TrustFromSync adapts the sync client's verified manifest material. It is
// called on every verify request, so it takes no lock: the converted value
// is cached against the sync client's current pointer.
func TrustFromSync(c *gatesync.Client) func() *Trust {
	type pair struct {
		src  *gatesync.Trust
		conv *Trust
	}
	var cur atomic.Pointer[pair]
	return func() *Trust {
		t := c.Trust()
		if t == nil {
			return nil
		}
		if p := cur.Load(); p != nil && p.src == t {
			return p.conv
		}
		p := &pair{src: t, conv: &Trust{CardKey: t.CardKey, Hasher: syncwire.NewCardHasher(t.CardKey), Issuers: t.Issuers, Policy: t.Policy, QRSkew: t.QRSkew}}
		cur.Store(p)
		return p.conv
	}
}

// Errors returns a channel of fatal errors from the running parts.
func (st *Station) Errors() <-chan error { return st.errc }

// Stop ends all goroutines and closes the files.
func (st *Station) Stop() error {
	if st.cancel != nil {
		st.cancel()
	}
	st.wg.Wait()
	return st.close()
}

func (st *Station) close() error {
	var errs []error
	if st.Outbox != nil {
		errs = append(errs, st.Outbox.Close())
	}
	if st.Cache != nil {
		errs = append(errs, st.Cache.Close())
	}
	return errors.Join(errs...)
}

// listenError says what a failed listen means for the technician: a port
// in use is almost always another serve or desk on this machine.
func listenError(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return app.WrapError(err, app.CodeConflict, "port_in_use",
			"端口 "+addr+" 已被占用（是否已有另一个 serve 或站务台在运行？）。请先关闭它，或在配置中改用其他端口。",
			"Port "+addr+" is in use (is another serve or desk running?). Close it first, or set another port in the configuration.")
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return app.WrapError(err, app.CodeInvalid, "listen_address",
			"地址 "+addr+" 不属于本机。请检查配置中的 listen 地址。",
			"The address "+addr+" is not one of this machine's. Check the listen address in the configuration.")
	case errors.Is(err, syscall.EACCES):
		return app.WrapError(err, app.CodeUnauthorized, "listen_denied",
			"无权监听 "+addr+"（1024 以下的端口需要特权）。请改用 1024 以上的端口。",
			"Not allowed to listen on "+addr+" (ports below 1024 need privileges). Use a port above 1024.")
	}
	return fmt.Errorf("listen %s: %w", addr, err)
}
