// Package central is StationDesk's client of the city's central backend
// (contract: openapi.yaml beside this file). It is built on resty and adds
// what a counter terminal needs from a remote call:
//
//   - a deadline on every call (Config.CallTimeout, a few seconds: a clerk
//     and a rider are waiting);
//   - retries with exponential backoff and jitter, only for GETs and for
//     POSTs that carry an Idempotency-Key — and every POST here carries one —
//     on connection errors, 5xx and 429 (Retry-After honoured);
//   - a response size cap (Config.MaxResponseBytes);
//   - TLS that trusts only a pinned CA, with an optional client certificate;
//   - a circuit breaker that shows the link state on the app.StatusBoard
//     (app.CompCentral) and fails fast while central is down;
//   - one classification of every outcome into *app.Error (see app.Central):
//     an answer that may or may not have been applied — timeout, connection
//     reset after sending, truncated or invalid JSON, a 5xx after the
//     retries — is CodeUnavailable with reason "outcome_unknown", never a
//     success and never a refusal.
//
// Request bodies carry document numbers (personal information); they are
// never logged, and neither are answer bodies.
package central

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

	"stationdesk/app"
)

// Config configures New. Zero durations and sizes take the defaults named.
type Config struct {
	// BaseURL is central's base URL, e.g. "https://central.example" (no
	// trailing /v1). http:// is accepted for the loopback simulator only.
	BaseURL string
	// StationToken is sent as "Authorization: Bearer <token>" (openapi.yaml
	// Authentication). It is a secret: never logged.
	StationToken string
	// CAFile or CAPEM is the pinned CA (PEM) for https URLs; the system
	// roots are not trusted. One of them is required for https.
	CAFile string
	CAPEM  []byte
	// ClientCertFile and ClientKeyFile, when both set, are presented as the
	// station's TLS client certificate.
	ClientCertFile, ClientKeyFile string
	// CallTimeout bounds every call including retries. Default 3 s.
	CallTimeout time.Duration
	// MaxRetries is the number of retries after the first attempt.
	// Default 2; negative disables retries.
	MaxRetries int
	// RetryWait and RetryMaxWait bound the backoff (jittered, doubling per
	// attempt; Retry-After is capped at RetryMaxWait). Defaults 100 ms, 1 s.
	RetryWait, RetryMaxWait time.Duration
	// MaxResponseBytes caps an answer body. Default 1 MiB.
	MaxResponseBytes int
	// BreakerFailures consecutive failed calls open the circuit for
	// BreakerCooldown; then one probe call is let through. Defaults 3, 5 s.
	BreakerFailures int
	BreakerCooldown time.Duration
	// Status, when set, receives the link state as app.CompCentral.
	Status *app.StatusBoard
	// Transport replaces the HTTP transport (tests). TLS settings above are
	// ignored when it is set.
	Transport http.RoundTripper
	Clock     app.Clock
	Logger    *slog.Logger
}

// Client talks to central. It is safe for concurrent use and implements
// app.Central, app.CentralHealth and app.CentralPolicy.
type Client struct {
	cfg Config
	r   *resty.Client
	log *slog.Logger
	brk breaker
}

var (
	_ app.Central       = (*Client)(nil)
	_ app.CentralHealth = (*Client)(nil)
	_ app.CentralPolicy = (*Client)(nil)
)

// New builds a client. It fails on a malformed URL, an https URL without a
// pinned CA, or unreadable certificate files.
func New(cfg Config) (*Client, error) {
	if cfg.Clock == nil {
		cfg.Clock = app.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 3 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 2
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 100 * time.Millisecond
	}
	if cfg.RetryMaxWait <= 0 {
		cfg.RetryMaxWait = time.Second
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 1 << 20
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = 3
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = 5 * time.Second
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("central: base URL must be http(s)://host[:port]")
	}
	rc := resty.New().
		SetBaseURL(strings.TrimRight(cfg.BaseURL, "/")).
		SetHeader("Accept", "application/json").
		SetHeader("User-Agent", "StationDesk/1").
		SetRetryCount(cfg.MaxRetries).
		SetRetryWaitTime(cfg.RetryWait).
		SetRetryMaxWaitTime(cfg.RetryMaxWait).
		SetRetryAfter(retryAfter).
		AddRetryCondition(shouldRetry).
		SetResponseBodyLimit(cfg.MaxResponseBytes).
		SetLogger(discardLogger{})
	if cfg.StationToken != "" {
		rc.SetAuthToken(cfg.StationToken)
	}
	if cfg.Transport != nil {
		rc.SetTransport(cfg.Transport)
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		tr.ResponseHeaderTimeout = 0 // the call deadline covers it
		if u.Scheme == "https" {
			tc, err := tlsConfig(cfg, u.Hostname())
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = tc
		}
		rc.SetTransport(tr)
	}
	c := &Client{cfg: cfg, r: rc, log: cfg.Logger}
	c.brk = breaker{threshold: cfg.BreakerFailures, cooldown: cfg.BreakerCooldown, clock: cfg.Clock, status: cfg.Status}
	if cfg.Status != nil {
		cfg.Status.Set(app.CompCentral, app.StateConnecting, u.Host)
	}
	return c, nil
}

// tlsConfig trusts only the pinned CA: a station must not accept any
// certificate a public CA (or a CA injected into the OS store) issued for
// central's name.
func tlsConfig(cfg Config, host string) (*tls.Config, error) {
	pem := cfg.CAPEM
	if len(pem) == 0 && cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("central: read CA file: %w", err)
		}
		pem = b
	}
	if len(pem) == 0 {
		return nil, errors.New("central: https needs a pinned CA (CAFile or CAPEM)")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("central: CA file holds no PEM certificate")
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: host}
	if cfg.ClientCertFile != "" || cfg.ClientKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.ClientCertFile, cfg.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("central: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// discardLogger silences resty's own logging: its warnings can quote
// request details, and we log each call ourselves.
type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}

// shouldRetry decides retries. Every request this client sends is a GET or
// a keyed POST, so resending cannot apply anything twice (docs/contracts.md
// "Retries"). Retried: connection errors, 5xx, 429. Not retried: a body over
// the cap, a context that ended, 4xx.
func shouldRetry(r *resty.Response, err error) bool {
	if err != nil {
		if errors.Is(err, resty.ErrResponseBodyTooLarge) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return false
		}
		return true
	}
	if r == nil {
		return false
	}
	s := r.StatusCode()
	return s == http.StatusTooManyRequests || s >= 500
}

// retryAfter honours a Retry-After of whole seconds on 429/503 (resty caps
// it at RetryMaxWait); otherwise the jittered backoff applies.
func retryAfter(_ *resty.Client, r *resty.Response) (time.Duration, error) {
	if r == nil {
		return 0, nil
	}
	if s := r.StatusCode(); s != http.StatusTooManyRequests && s != http.StatusServiceUnavailable {
		return 0, nil
	}
	if n, err := strconv.Atoi(strings.TrimSpace(r.Header().Get("Retry-After"))); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	return 0, nil
}

// NewKey returns a random idempotency key (128 bits, hex).
func NewKey() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("central: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// Online reports whether the circuit is closed (the last calls reached
// central).
func (c *Client) Online() bool { return c.brk.closed() }

// Probe asks central for its policy to test the link (used by a status
// ticker and after an outage); the breaker and status board update as for
// any call.
func (c *Client) Probe(ctx context.Context) error {
	_, err := c.Policy(ctx)
	return err
}

// call sends one request and decodes a 2xx answer into out (nil: ignore).
// key is sent as Idempotency-Key on POSTs (a random one when empty: for
// queries). It returns the HTTP status of a 2xx answer.
func (c *Client) call(ctx context.Context, method, path, key string, body, out any) (int, error) {
	if !c.brk.allow() {
		return 0, errOffline(nil)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	req := c.r.R().SetContext(ctx)
	if method == http.MethodPost {
		if key == "" {
			key = NewKey()
		}
		req.SetHeader("Idempotency-Key", key).SetHeader("Content-Type", "application/json").SetBody(body)
	}
	start := time.Now()
	resp, err := req.Execute(method, path)
	status := 0
	if resp != nil {
		status = resp.StatusCode()
	}
	attrs := []any{"method", method, "path", path, "status", status, "ms", time.Since(start).Milliseconds()}
	if err != nil {
		aerr := classifyTransport(ctx, err)
		c.brk.failure()
		c.log.Warn("central call failed", append(attrs, "reason", app.ErrorReason(aerr), "err", scrub(err))...)
		return 0, aerr
	}
	switch {
	case status >= 200 && status < 300:
		if out != nil {
			if !isJSON(resp.Header().Get("Content-Type")) || json.Unmarshal(resp.Body(), out) != nil {
				// The server answered but we cannot read what: it may
				// have applied the request (an unknown outcome: resent later with the same key).
				c.brk.failure()
				c.log.Warn("central answer unreadable", append(attrs, "bytes", len(resp.Body()))...)
				return 0, errUnknown(errors.New("invalid or truncated answer"))
			}
		}
		c.brk.success()
		c.log.Debug("central call", attrs...)
		return status, nil
	case status == http.StatusTooManyRequests:
		c.brk.failure()
		c.log.Warn("central busy", attrs...)
		return 0, app.NewError(app.CodeUnavailable, string(app.CentralRateLimited),
			"中心系统繁忙，请稍后再试。", "Central is busy; please try again shortly.")
	case status >= 500:
		c.brk.failure()
		c.log.Warn("central server error", attrs...)
		if method == http.MethodGet {
			return 0, errOffline(fmt.Errorf("status %d", status))
		}
		return 0, errUnknown(fmt.Errorf("status %d", status))
	}
	// 4xx: central answered and refused; the circuit is healthy.
	c.brk.success()
	var we WireError
	_ = json.Unmarshal(resp.Body(), &we)
	aerr := refusal(status, we.Code)
	c.log.Info("central refused", append(attrs, "code", app.ErrorReason(aerr))...)
	return 0, aerr
}

func isJSON(ct string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json")
}

// scrub keeps an error loggable: URL errors name only our own paths, but
// cut the text anyway so nothing unexpected grows into the log.
func scrub(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// classifyTransport turns a transport failure into CentralOffline (nothing
// was sent: the connection was never made, or TLS failed) or
// CentralOutcomeUnknown (the request may have reached central).
func classifyTransport(ctx context.Context, err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return errOffline(err)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return errOffline(err)
	}
	var certErr *tls.CertificateVerificationError
	var uaErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &uaErr) || errors.As(err, &hostErr) {
		return app.WrapError(err, app.CodeUnavailable, string(app.CentralOffline),
			"中心系统证书不受信任，未发送任何数据。请联系技术支持。", "Central's certificate is not trusted; nothing was sent. Call technical support.")
	}
	return errUnknown(err)
}

func errOffline(cause error) error {
	return app.WrapError(cause, app.CodeUnavailable, string(app.CentralOffline),
		"与中心系统的连接中断。", "The link to central is down.")
}

func errUnknown(cause error) error {
	return app.WrapError(cause, app.CodeUnavailable, string(app.CentralOutcomeUnknown),
		"中心系统未及时应答，结果未知；将用同一编号自动重发。", "Central did not answer in time; the outcome is unknown and the request will be resent with the same key.")
}

// refusal maps a 4xx answer to an app error with the contract's code as
// Reason. Messages are ours, not central's: an answer body is never shown.
func refusal(status int, code string) error {
	if m, ok := refusalMessages[app.CentralCode(code)]; ok {
		return app.NewError(m.code, code, m.zh, m.en)
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return refusal(0, string(app.CentralUnauthorized))
	case http.StatusNotFound:
		return refusal(0, string(app.CentralNotFound))
	case http.StatusConflict:
		return refusal(0, string(app.CentralConflict))
	}
	return app.NewError(app.CodeInvalid, string(app.CentralBadRequest), "中心系统拒绝了此请求。", "Central refused this request.")
}

type refusalMessage struct {
	code   app.Code
	zh, en string
}

var refusalMessages = map[app.CentralCode]refusalMessage{
	app.CentralBadRequest:          {app.CodeInvalid, "请求格式错误。", "The request was malformed."},
	app.CentralMissingKey:          {app.CodeInternal, "请求缺少幂等键（程序错误）。", "The request lacked an idempotency key (a bug)."},
	app.CentralInvalidDocument:     {app.CodeInvalid, "证件号码无效，请核对证件类型和号码。", "Invalid document; check the type and the number."},
	app.CentralInvalidCardNumber:   {app.CodeInvalid, "卡号无效。", "Invalid card number."},
	app.CentralInvalidCode:         {app.CodeInvalid, "验证码应为6位数字。", "The verification code has 6 digits."},
	app.CentralUnauthorized:        {app.CodeUnauthorized, "本站未获中心系统授权，请联系技术支持。", "This station is not authorised by central; call technical support."},
	app.CentralNotFound:            {app.CodeNotFound, "中心系统中没有此记录。", "Central has no such record."},
	app.CentralLimitReached:        {app.CodeConflict, "此人已绑定同类卡（实体卡、NFC卡各限一张）。", "This person already has a card of this form bound (one physical, one NFC)."},
	app.CentralNotUpgradeable:      {app.CodeConflict, "此类卡不能升级。", "Cards of this kind cannot be upgraded."},
	app.CentralBoundToOther:        {app.CodeConflict, "此卡已绑定他人。", "This card is bound to another person."},
	app.CentralProxyLimitReached:   {app.CodeConflict, "代办人已代办满额。", "The helper has used up their proxy upgrades."},
	app.CentralSpecialCardAuto:     {app.CodeConflict, "特殊卡已由系统自动升级。", "Special cards are upgraded automatically."},
	app.CentralCodeUnavailable:     {app.CodeConflict, "持卡人没有登记手机号，无法代办。", "The holder has no phone on record; no proxy upgrade."},
	app.CentralCodeMismatch:        {app.CodeInvalid, "验证码不正确。", "The verification code is wrong."},
	app.CentralConflict:            {app.CodeConflict, "中心系统的记录与此操作冲突（例如此卡已绑定他人）。", "Central's records conflict with this operation (for example, the card is bound to someone else)."},
	app.CentralIdempotencyConflict: {app.CodeConflict, "重复提交的内容与首次不同，请重新开始办理。", "A resubmission differed from the first; please start again."},
	app.CentralTooLarge:            {app.CodeInvalid, "请求过大。", "The request was too large."},
	// Ledger checkpoints (SendCheckpoint): central's anchor of this
	// station's audit chain disagrees with the one sent.
	"checkpoint_invalid":     {app.CodeInvalid, "中心系统认为本站账本检查点的签名无效。", "Central found the signature of this station's ledger checkpoint invalid."},
	"checkpoint_behind":      {app.CodeConflict, "本站账本检查点早于中心已保存的检查点：账本可能被回退，请联系值班站长核查。", "This station's ledger checkpoint is older than the one central holds: the ledger may have been rolled back; call the supervisor to check it."},
	"checkpoint_forked":      {app.CodeConflict, "本站账本检查点与中心已保存的同序号检查点不同：账本可能被替换，请联系值班站长核查。", "This station's ledger checkpoint differs from the one central holds for the same entry: the ledger may have been replaced; call the supervisor to check it."},
	"checkpoint_key_changed": {app.CodeConflict, "本站账本检查点的签名密钥与中心登记的不同，请联系技术支持。", "This station's ledger checkpoint is signed with another key than central has on record; call technical support."},
}

// breaker is a consecutive-failure circuit breaker (closed → open after
// threshold failures → half-open after cooldown, one probe).
type breaker struct {
	threshold int
	cooldown  time.Duration
	clock     app.Clock
	status    *app.StatusBoard

	mu       sync.Mutex
	failures int
	open     bool
	until    time.Time
	probing  bool
}

func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true
	}
	if b.clock.Now().Before(b.until) || b.probing {
		return false
	}
	b.probing = true
	return true
}

func (b *breaker) closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.open && b.failures == 0
}

func (b *breaker) success() {
	b.mu.Lock()
	b.failures, b.open, b.probing = 0, false, false
	b.mu.Unlock()
	b.set(app.StateReady, "online")
}

func (b *breaker) failure() {
	b.mu.Lock()
	b.failures++
	opened := false
	if b.probing || b.failures >= b.threshold {
		b.open, b.probing, opened = true, false, true
		b.until = b.clock.Now().Add(b.cooldown)
	}
	b.mu.Unlock()
	if opened {
		b.set(app.StateOffline, "offline")
	} else {
		b.set(app.StateDegraded, "retrying")
	}
}

func (b *breaker) set(s app.State, detail string) {
	if b.status != nil {
		b.status.Set(app.CompCentral, s, detail)
	}
}
