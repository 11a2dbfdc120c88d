// Package gatesync is the station side of the gate-cache sync: it fetches the
// signed manifest (Ed25519, pinned key), verifies every object by SHA-256,
// applies delta segments in one transaction each together with the applied
// sequence, applies the hot list often, builds a new cache file from
// key-sorted snapshot chunks on cold start (the old file keeps answering
// gates) and swaps it in atomically, resumes interrupted downloads (HTTP
// Range) and builds, and repairs a bucket whose digest disagrees with the
// manifest instead of wiping everything.
//
// Progress goes to an optional callback (GUI progress bar, CLI line).
// Nothing here handles a card number, a name or an ID number.
package gatesync

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-resty/resty/v2"

	"stationdesk/app"
	"stationdesk/app/atomicfile"
	"stationdesk/offline/cache"
	"stationdesk/offline/syncwire"
)

// Config configures a Client.
type Config struct {
	// BaseURL is central's sync root, e.g. "http://127.0.0.1:8700/v1/sync".
	BaseURL string
	// Token is the station's bearer token for central (secret, never logged).
	Token string
	// PinnedKey is the manifest signing key. Trust comes only from it.
	PinnedKey ed25519.PublicKey
	// Cache is the live cache the gates read.
	Cache *cache.Cache
	// Dir holds the build file, partial downloads, the last verified
	// manifest and the card key file (0600; kept out of the cache file so
	// a copied cache alone does not reveal card numbers).
	Dir         string
	Clock       app.Clock
	Logger      *slog.Logger
	HTTP        *http.Client // optional transport for resty
	Interval    time.Duration
	HotInterval time.Duration
	Timeout     time.Duration // per request (default 30 s)
	OnProgress  func(app.SyncProgress)
	Status      *app.StatusBoard // optional: CompCentral / CompGateCache
	CacheOpts   cache.Options
}

// Trust is what the verify server needs from the last verified manifest:
// the card-hash key, the ride-code issuers and central's policy.
type Trust struct {
	CardKey   []byte
	CardKeyID string
	Issuers   map[uint16]ed25519.PublicKey
	Policy    app.Policy
	QRSkew    time.Duration
}

// Client syncs a cache with central. Run loops; SyncOnce and HotOnce do one
// step each (tests, CLI).
type Client struct {
	cfg  Config
	http *resty.Client
	now  func() time.Time
	log  *slog.Logger

	runMu    sync.Mutex // one sync at a time
	trust    atomic.Pointer[Trust]
	progress atomic.Pointer[app.SyncProgress]
	skew     atomic.Pointer[time.Duration] // central minus station, at the last manifest
	kick     chan struct{}
}

// Errors (classified for the GUI).
var (
	ErrSignature = app.NewError(app.CodeInvalid, "manifest_signature", "同步清单签名无效", "manifest signature is invalid")
	ErrDigest    = app.NewError(app.CodeInvalid, "object_digest", "同步数据校验失败", "sync object digest mismatch")
	ErrCentral   = app.NewError(app.CodeUnavailable, "central_unreachable", "无法连接中心", "central is unreachable")
)

// New returns a client and loads the last verified manifest and card key
// from Dir, so a station restarted while central is down still answers.
func New(cfg Config) (*Client, error) {
	if cfg.Cache == nil || len(cfg.PinnedKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("sync: cache and a pinned Ed25519 key are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = app.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval == 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.HotInterval == 0 {
		cfg.HotInterval = 10 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "parts"), 0o700); err != nil {
		return nil, err
	}
	rc := resty.New()
	if cfg.HTTP != nil {
		rc = resty.NewWithClient(cfg.HTTP)
	}
	rc.SetBaseURL(cfg.BaseURL).SetTimeout(cfg.Timeout).SetRetryCount(3).
		SetRetryWaitTime(200 * time.Millisecond).SetRetryMaxWaitTime(5 * time.Second)
	if cfg.Token != "" {
		rc.SetAuthToken(cfg.Token)
	}
	c := &Client{cfg: cfg, http: rc, now: cfg.Clock.Now, log: cfg.Logger, kick: make(chan struct{}, 1)}
	c.setProgress(app.SyncProgress{Phase: app.SyncIdle})
	if err := c.loadTrust(); err != nil {
		c.log.Warn("no stored sync trust yet", "err", err)
	}
	return c, nil
}

// Trust returns the current trust material (nil before the first manifest).
func (c *Client) Trust() *Trust { return c.trust.Load() }

// Progress returns the latest progress.
func (c *Client) Progress() app.SyncProgress { return *c.progress.Load() }

// SyncNow asks Run to sync at once (the GUI's refresh button).
func (c *Client) SyncNow() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

var _ app.GateSync = (*Client)(nil)

func (c *Client) setProgress(p app.SyncProgress) {
	f := c.cfg.Cache.Freshness()
	p.AppliedSeq, p.FreshAsOf = f.Version, f.FreshAsOf
	if d := c.skew.Load(); d != nil {
		p.ClockSkew, p.SkewKnown = *d, true
	}
	c.progress.Store(&p)
	if c.cfg.OnProgress != nil {
		c.cfg.OnProgress(p)
	}
}

// Run syncs every Interval and fetches the hot list every HotInterval until
// ctx ends. Failures are reported in progress and the status board; the
// cache keeps answering.
func (c *Client) Run(ctx context.Context) error {
	full := time.NewTicker(c.cfg.Interval)
	hot := time.NewTicker(c.cfg.HotInterval)
	defer full.Stop()
	defer hot.Stop()
	c.step(ctx, true)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-full.C:
			c.step(ctx, true)
		case <-c.kick:
			c.step(ctx, true)
		case <-hot.C:
			c.step(ctx, false)
		}
	}
}

func (c *Client) step(ctx context.Context, full bool) {
	var err error
	if full {
		err = c.SyncOnce(ctx)
	} else {
		err = c.HotOnce(ctx)
	}
	c.report(err)
}

func (c *Client) report(err error) {
	b := c.cfg.Status
	f := c.cfg.Cache.Freshness()
	age := f.Age(c.now())
	if err != nil && ctxErr(err) {
		return
	}
	if err != nil {
		c.log.Warn("gate cache sync failed", "err", err)
		p := c.Progress()
		p.Phase, p.Detail, p.Err = app.SyncError, app.UserMessage(err, app.LangEN), err
		c.setProgress(p)
	}
	if b == nil {
		return
	}
	if err != nil {
		// The cause travels as it is: the status bar words it in the
		// clerk's language, whichever that is when it is drawn.
		b.Put(app.Status{Component: app.CompCentral, State: app.StateOffline, Err: err})
	} else {
		b.Set(app.CompCentral, app.StateReady, "")
	}
	pol := app.DefaultPolicy()
	if t := c.Trust(); t != nil {
		pol = t.Policy
	}
	st := app.Status{Component: app.CompGateCache, Detail: "version {{.Version}}, {{.Age}} old",
		Args: map[string]any{"Version": f.Version, "Age": age.Truncate(time.Second)}}
	switch {
	case f.FreshAsOf.IsZero():
		st = app.Status{Component: app.CompGateCache, State: app.StateConnecting, Detail: "never synced"}
	case age > pol.CacheManualAfter:
		st.State = app.StateError
	case age > pol.CacheWarnAfter:
		st.State = app.StateDegraded
	default:
		st.State = app.StateReady
	}
	b.Put(st)
}

func ctxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// --- trust material ---

type cardKeyFile struct {
	KeyID string `json:"key_id"`
	Key   []byte `json:"key"`
}

func (c *Client) manifestPath() string { return filepath.Join(c.cfg.Dir, "manifest.signed") }
func (c *Client) cardKeyPath() string  { return filepath.Join(c.cfg.Dir, "cardkey.json") }

func (c *Client) loadTrust() error {
	env, err := os.ReadFile(c.manifestPath())
	if err != nil {
		return err
	}
	m, err := c.openManifest(env)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(c.cardKeyPath())
	if err != nil {
		return err
	}
	var k cardKeyFile
	if err := json.Unmarshal(b, &k); err != nil {
		return err
	}
	c.setTrust(m, k)
	return nil
}

func (c *Client) setTrust(m *syncwire.Manifest, k cardKeyFile) {
	t := &Trust{CardKey: k.Key, CardKeyID: k.KeyID, Issuers: map[uint16]ed25519.PublicKey{}, Policy: app.DefaultPolicy(), QRSkew: 30 * time.Second}
	for _, is := range m.Issuers {
		if len(is.PublicKey) == ed25519.PublicKeySize {
			t.Issuers[is.ID] = ed25519.PublicKey(is.PublicKey)
		}
	}
	if m.Policy.NATWindowS > 0 {
		t.Policy.NATWindow = time.Duration(m.Policy.NATWindowS) * time.Second
	}
	if m.Policy.CacheWarnAfterS > 0 {
		t.Policy.CacheWarnAfter = time.Duration(m.Policy.CacheWarnAfterS) * time.Second
	}
	if m.Policy.CacheManualAfterS > 0 {
		t.Policy.CacheManualAfter = time.Duration(m.Policy.CacheManualAfterS) * time.Second
	}
	if m.Policy.QRSkewS > 0 {
		t.QRSkew = time.Duration(m.Policy.QRSkewS) * time.Second
	}
	c.trust.Store(t)
}

func (c *Client) openManifest(env []byte) (*syncwire.Manifest, error) {
	payload, err := syncwire.Open(c.cfg.PinnedKey, "manifest", env)
	if err != nil {
		return nil, ErrSignature
	}
	var m syncwire.Manifest
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, app.WrapError(err, app.CodeInvalid, "manifest_format", "同步清单格式错误", "manifest is malformed")
	}
	if len(m.CardDigests) != syncwire.Buckets || len(m.PersonDigest) != syncwire.Buckets {
		return nil, app.NewError(app.CodeInvalid, "manifest_format", "同步清单格式错误", "manifest is malformed")
	}
	return &m, nil
}

// --- HTTP ---

func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	resp, err := c.http.R().SetContext(ctx).Get(path)
	if err != nil {
		return nil, app.WrapError(err, app.CodeUnavailable, "central_unreachable", "无法连接中心", "central is unreachable")
	}
	if resp.StatusCode() != http.StatusOK {
		return nil, app.WrapError(fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode()), app.CodeUnavailable, "central_status", "中心返回错误", "central returned an error")
	}
	b := resp.Body()
	if len(b) > 64<<20 {
		return nil, app.NewError(app.CodeInvalid, "too_large", "同步数据过大", "sync response too large")
	}
	return b, nil
}

func (c *Client) fetchManifest(ctx context.Context, after uint64) (*syncwire.Manifest, []byte, error) {
	env, err := c.get(ctx, "/manifest?after="+strconv.FormatUint(after, 10))
	if err != nil {
		return nil, nil, err
	}
	m, err := c.openManifest(env)
	return m, env, err
}

// ensureKey makes sure the card key for id is known (fetching it if not).
func (c *Client) ensureKey(ctx context.Context, m *syncwire.Manifest, env []byte) error {
	var k cardKeyFile
	if t := c.Trust(); t != nil && t.CardKeyID == m.CardKeyID {
		k = cardKeyFile{KeyID: t.CardKeyID, Key: t.CardKey}
	} else {
		b, err := c.get(ctx, "/cardkey")
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &k); err != nil || k.KeyID != m.CardKeyID || len(k.Key) < 16 {
			return app.NewError(app.CodeInvalid, "card_key", "卡号密钥无效", "card key does not match the manifest")
		}
		kb, _ := json.Marshal(k)
		if err := atomicfile.WriteFile(c.cardKeyPath(), kb, 0o600); err != nil {
			return err
		}
	}
	if err := atomicfile.WriteFile(c.manifestPath(), env, 0o600); err != nil {
		return err
	}
	c.setTrust(m, k)
	return nil
}

// fetchObject downloads an immutable object into Dir/parts, resuming a
// partial download with an HTTP Range request, and returns its bytes once
// the SHA-256 matches. A mismatch deletes the part and returns ErrDigest.
func (c *Client) fetchObject(ctx context.Context, path, sha string, size int64) ([]byte, error) {
	if len(sha) != 64 {
		return nil, ErrDigest
	}
	part := filepath.Join(c.cfg.Dir, "parts", sha+".part")
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 100 * time.Millisecond):
			}
		}
		have := int64(0)
		if fi, err := os.Stat(part); err == nil {
			have = fi.Size()
		}
		if have < size {
			if err := c.download(ctx, path, part, have); err != nil {
				lastErr = err
				if ctxErr(err) {
					return nil, err
				}
				continue
			}
		}
		data, err := os.ReadFile(part)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != sha || int64(len(data)) != size {
			_ = os.Remove(part)
			return nil, ErrDigest
		}
		_ = os.Remove(part)
		return data, nil
	}
	return nil, app.WrapError(lastErr, app.CodeUnavailable, "central_unreachable", "无法连接中心", "central is unreachable")
}

func (c *Client) download(ctx context.Context, path, part string, have int64) error {
	req := c.http.R().SetContext(ctx).SetDoNotParseResponse(true)
	if have > 0 {
		req.SetHeader("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := req.Get(path)
	if err != nil {
		return err
	}
	body := resp.RawBody()
	defer body.Close()
	flag := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	switch resp.StatusCode() {
	case http.StatusPartialContent:
	case http.StatusOK:
		flag |= os.O_TRUNC // server ignored the range
	default:
		return fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode())
	}
	f, err := os.OpenFile(part, flag, 0o600)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(f, body)
	if err := f.Close(); cerr == nil {
		cerr = err
	}
	return cerr
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
