package idcard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"stationdesk/app"
	"stationdesk/devices/serial"
)

// Config configures a Reader. Zero values take the defaults in brackets.
type Config struct {
	Port string // serial port path; "" = not configured
	Baud int    // [115200]
	// PollInterval is the pause between find-card polls [250 ms]. It
	// bounds the wait between placing a card and the read starting.
	PollInterval time.Duration
	// ShortTimeout bounds status, find and select [500 ms]; ReadTimeout
	// bounds the text+photo read [3 s] (docs/devices.md, read sequence).
	ShortTimeout, ReadTimeout time.Duration
	// NoiseLimit bad frames or garbage runs within NoiseWindow mark the
	// reader misconfigured (wrong baud rate, another device) [5 in 10 s].
	NoiseLimit  int
	NoiseWindow time.Duration
	// MinBackoff, MaxBackoff bound the reopen delay after a loss (see
	// serial.KeepConfig) [100 ms, 800 ms].
	MinBackoff, MaxBackoff time.Duration
	Board                  *app.StatusBoard // may be nil
	Component              app.Component    // [app.CompIDReader]
	Clock                  app.Clock        // for validation dates [app.SystemClock]
	Logger                 *slog.Logger     // [discard]
}

// Reader is the GA 467 ID-card reader driver. Run polls the SAM for the
// life of a context, keeps the port open across unplug/replug and reports
// its state on the StatusBoard; ReadID waits for the next card. A Reader
// is safe for concurrent use.
type Reader struct {
	cfg Config
	log *slog.Logger

	waiting serial.Pending[struct{}, result] // ReadID callers

	mu    sync.Mutex
	up    bool   // port open and SAM answering
	samID string // for diagnostics
}

type result struct {
	id  app.Identity
	err error
}

var _ app.IDReader = (*Reader)(nil)

// New returns a Reader for cfg; call Run to start it.
func New(cfg Config) *Reader {
	if cfg.Baud == 0 {
		cfg.Baud = 115200
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.ShortTimeout <= 0 {
		cfg.ShortTimeout = 500 * time.Millisecond
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 3 * time.Second
	}
	if cfg.NoiseLimit <= 0 {
		cfg.NoiseLimit = 5
	}
	if cfg.NoiseWindow <= 0 {
		cfg.NoiseWindow = 10 * time.Second
	}
	if cfg.Component == "" {
		cfg.Component = app.CompIDReader
	}
	if cfg.Clock == nil {
		cfg.Clock = app.SystemClock{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reader{cfg: cfg, log: log.With("device", "idcard", "port", cfg.Port)}
}

func (r *Reader) set(s app.State, detail string) {
	if r.cfg.Board != nil {
		r.cfg.Board.Set(r.cfg.Component, s, detail)
	}
}

// SAMID returns the SAM module number read at connect ("" before), for
// diagnostics only.
func (r *Reader) SAMID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.samID
}

// Waiting reports whether a ReadID is waiting for a card. Diagnostics and
// tests use it to know a read is queued before they place a card or pull
// the cable.
func (r *Reader) Waiting() bool { return r.waiting.Waiting() }

// Run drives the reader until ctx ends and returns nil then. With no port
// configured it reports StateNotConfigured and waits for ctx.
func (r *Reader) Run(ctx context.Context) error {
	serial.Drive(ctx, serial.DriveConfig{
		Keep: serial.KeepConfig{Path: r.cfg.Port, Baud: r.cfg.Baud, Logger: r.log,
			MinBackoff: r.cfg.MinBackoff, MaxBackoff: r.cfg.MaxBackoff},
		Status: r.set, Down: r.markDown,
	}, r.session)
	return nil
}

// markDown records that the port is gone and fails every waiter.
func (r *Reader) markDown() {
	r.mu.Lock()
	r.up = false
	r.mu.Unlock()
	r.failAll(errDisconnected)
}

// ReadID waits for a card to be placed (or for one already lying on the
// reader and not yet read), reads it and returns the validated identity.
// It blocks until then or until ctx ends.
//
// Errors (all *app.Error, no personal data): CodeInvalid from the
// document rules (see Text.Identity) for a card whose data fails
// validation; CodeUnavailable with reason "reader_disconnected" when the
// reader goes away while waiting or reading, "replace_card" when the read
// failed twice (card lifted mid-read, radio trouble), "reader_misconfigured",
// "not_configured", and "timeout" (reader up) or "reader_not_responding"
// (reader down) when ctx ends first. A half-read card never yields an
// identity.
func (r *Reader) ReadID(ctx context.Context) (app.Identity, error) {
	if r.cfg.Port == "" {
		return app.Identity{}, errNotConfigured
	}
	res, ok := r.waiting.Wait(ctx, r.waiting.Add(struct{}{}))
	if ok {
		return res.id, res.err
	}
	r.mu.Lock()
	up := r.up
	r.mu.Unlock()
	if !up {
		return app.Identity{}, errNoAnswer
	}
	return app.Identity{}, errTimeout
}

func (r *Reader) failAll(err error) { r.waiting.AnswerAll(result{err: err}) }

// conn is one session's view of the port.
type conn struct {
	r      *Reader
	p      *serial.Port
	fr     Framer
	buf    []byte
	noise  []time.Time // times of recent bad frames / garbage runs
	misCfg bool
	dirty  bool // a command timed out: its answer may still come
}

var errNoResponse = errors.New("idcard: no response")

// session runs on an open port until it fails or ctx ends.
func (r *Reader) session(ctx context.Context, p *serial.Port) error {
	c := &conn{r: r, p: p, buf: make([]byte, 2048), dirty: true}
	// 1. The SAM must answer a status check before anything else.
	for {
		resp, err := c.transact(ctx, Command{Cmd: CmdStatus, Para: ParaAny}, r.cfg.ShortTimeout)
		if err != nil && !errors.Is(err, errNoResponse) {
			return err
		}
		if err == nil && resp.SW3 == SWOK {
			break
		}
		if err == nil {
			r.log.Warn("SAM status", "sw3", fmt.Sprintf("%02X", resp.SW3), "text", StatusText(resp.SW3))
			r.set(app.StateError, "SAM: "+StatusText(resp.SW3))
		} else {
			r.set(app.StateError, "reader not responding")
		}
		r.failAll(errNoAnswer)
		if !sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
	if resp, err := c.transact(ctx, Command{Cmd: CmdSAMID, Para: ParaAny}, r.cfg.ShortTimeout); err == nil && resp.SW3 == SWOK {
		id := FormatSAMID(resp.Data)
		r.mu.Lock()
		r.samID = id
		r.mu.Unlock()
		r.log.Info("SAM ready", "sam_id", id)
	} else if err != nil && !errors.Is(err, errNoResponse) {
		return err
	}
	r.mu.Lock()
	r.up = true
	r.mu.Unlock()
	r.set(app.StateReady, r.cfg.Port)

	// 2. Poll.
	present := false
	missed := 0
	for {
		if !sleep(ctx, r.cfg.PollInterval) {
			return ctx.Err()
		}
		resp, err := c.transact(ctx, Command{Cmd: CmdCard, Para: ParaFind}, r.cfg.ShortTimeout)
		if err != nil {
			if !errors.Is(err, errNoResponse) {
				return err
			}
			// One lost answer can be noise; two in a row is a reader
			// that stopped answering: fail whoever waits.
			present = false
			if missed++; missed >= 2 {
				r.mu.Lock()
				r.up = false
				r.mu.Unlock()
				r.set(app.StateError, "reader not responding")
				r.failAll(errNoAnswer)
			}
			continue
		}
		if missed >= 2 {
			r.mu.Lock()
			r.up = true
			r.mu.Unlock()
			r.set(app.StateReady, r.cfg.Port)
		}
		missed = 0
		switch resp.SW3 {
		case SWFound:
			if !present {
				r.log.Debug("card present")
			}
			present = true
			if c.misCfg {
				continue
			}
			r.set(app.StateBusy, "card present")
			if r.waiting.Waiting() {
				if err := c.readCard(ctx); err != nil {
					return err
				}
				present = false
			}
		default:
			// 0x80: no card, or the card just read still lies there
			// (GA 467 readers do not find a card twice): normal.
			present = false
			if !c.misCfg {
				r.set(app.StateReady, r.cfg.Port)
			}
		}
	}
}

// readCard selects and reads the card for the first waiter, retrying the
// whole sequence once. It returns only port failures; card trouble goes to
// the waiter.
func (c *conn) readCard(ctx context.Context) error {
	r := c.r
	var last error
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			// The retry starts with a fresh find: a lifted card is gone.
			resp, err := c.transact(ctx, Command{Cmd: CmdCard, Para: ParaFind}, r.cfg.ShortTimeout)
			if err != nil && !errors.Is(err, errNoResponse) {
				return err
			}
			if err != nil || resp.SW3 != SWFound {
				break
			}
		}
		id, err := c.readOnce(ctx)
		if err == nil || app.ErrorCode(err) == app.CodeInvalid {
			w := r.waiting.Next()
			if w == nil {
				return nil // the caller gave up meanwhile; drop the data
			}
			w.Answer(result{id: id, err: err})
			if err != nil {
				r.log.Info("card rejected", "reason", app.ErrorReason(err))
			} else {
				r.log.Info("card read", "identity", id)
			}
			return nil
		}
		if errors.Is(err, serial.ErrDisconnected) || ctx.Err() != nil {
			return err
		}
		last = err
		r.log.Warn("card read failed", "attempt", attempt+1, "err", err)
	}
	_ = last
	if w := r.waiting.Next(); w != nil {
		w.Answer(result{err: errReplace})
	}
	return nil
}

// readOnce runs select + read and parses the answer. Port failures come
// back as serial errors; card trouble as errNoResponse or a status error;
// invalid card data as a CodeInvalid *app.Error.
func (c *conn) readOnce(ctx context.Context) (app.Identity, error) {
	r := c.r
	resp, err := c.transact(ctx, Command{Cmd: CmdCard, Para: ParaSelect}, r.cfg.ShortTimeout)
	if err != nil {
		return app.Identity{}, err
	}
	if resp.SW3 != SWOK {
		return app.Identity{}, fmt.Errorf("select: %s", StatusText(resp.SW3))
	}
	resp, err = c.transact(ctx, Command{Cmd: CmdRead, Para: ParaReadBase}, r.cfg.ReadTimeout)
	if err != nil {
		return app.Identity{}, err
	}
	if resp.SW3 != SWOK {
		return app.Identity{}, fmt.Errorf("read: %s", StatusText(resp.SW3))
	}
	text, photo, err := SplitRead(resp.Data)
	if err != nil {
		return app.Identity{}, err
	}
	t, err := ParseText(text)
	clear(text) // the parsed strings are all we keep
	if errors.Is(err, ErrUnknownKind) {
		return app.Identity{}, errUnsupportedDoc
	}
	if err != nil {
		return app.Identity{}, err
	}
	return t.Identity(r.cfg.Clock.Now(), photo)
}

// SplitRead splits the data of a 0x30 0x01 / 0x30 0x10 answer into the
// text block and the photo (docs/devices.md, read reply: big-endian text and photo
// lengths, then text, photo, optional fingerprint). The photo aliases data.
func SplitRead(data []byte) (text, photo []byte, err error) {
	if len(data) < 4 {
		return nil, nil, fmt.Errorf("read answer: %d bytes: %w", len(data), ErrTruncated)
	}
	tl := int(data[0])<<8 | int(data[1])
	pl := int(data[2])<<8 | int(data[3])
	if tl != TextLen || pl > 1024 || 4+tl+pl > len(data) {
		return nil, nil, fmt.Errorf("read answer: text %d photo %d in %d bytes: %w", tl, pl, len(data), ErrTruncated)
	}
	off := 4
	if len(data) > 4+tl+pl {
		off = 6 // with fingerprint: a third length
		if len(data) < 6+tl+pl {
			return nil, nil, fmt.Errorf("read answer: %w", ErrTruncated)
		}
	}
	return data[off : off+tl], data[off+tl : off+tl+pl], nil
}

// transact sends cmd and waits up to timeout for a response frame.
func (c *conn) transact(ctx context.Context, cmd Command, timeout time.Duration) (Response, error) {
	if c.fr.Buffered() > 0 || c.dirty {
		// A late answer to an earlier command must not pass for this
		// one. (Not flushed on every command: each syscall counts in
		// the idle budget.)
		_ = c.p.Flush()
		c.dirty = false
	}
	c.fr.Reset()
	if _, err := c.p.Write(EncodeCommand(cmd)); err != nil {
		return Response{}, err
	}
	deadline := time.Now().Add(timeout)
	for {
		if ctx.Err() != nil {
			return Response{}, ctx.Err()
		}
		n, err := c.p.Read(c.buf)
		if err != nil && !errors.Is(err, serial.ErrTimeout) {
			return Response{}, err
		}
		if n > 0 {
			bodies, errs := c.fr.Feed(c.buf[:n])
			for _, e := range errs {
				c.noisy(e)
			}
			for _, b := range bodies {
				resp, err := ParseResponse(b)
				if err != nil {
					c.noisy(err)
					continue
				}
				c.clean()
				return resp, nil
			}
		}
		if time.Now().After(deadline) {
			c.dirty = true
			return Response{}, fmt.Errorf("%w to %02X %02X", errNoResponse, cmd.Cmd, cmd.Para)
		}
	}
}

// noisy records a framing problem; enough of them in the window mark the
// reader misconfigured and fail waiters (a wrong baud rate looks like garbage).
func (c *conn) noisy(err error) {
	r := c.r
	now := time.Now()
	c.noise = append(c.noise, now)
	cut := 0
	for cut < len(c.noise) && now.Sub(c.noise[cut]) > r.cfg.NoiseWindow {
		cut++
	}
	c.noise = c.noise[cut:]
	if len(c.noise) > r.cfg.NoiseLimit {
		c.noise = c.noise[len(c.noise)-r.cfg.NoiseLimit:]
	}
	r.log.Debug("line noise", "err", err, "recent", len(c.noise))
	if len(c.noise) >= r.cfg.NoiseLimit && !c.misCfg {
		c.misCfg = true
		r.log.Warn("reader misconfigured: noise on the line", "errors", len(c.noise))
		r.set(app.StateError, "noise on the line — check baud rate")
		r.failAll(errMisconfigured)
	}
}

// clean notes a good frame; the misconfigured state ends once the window
// holds no noise.
func (c *conn) clean() {
	if !c.misCfg {
		return
	}
	if len(c.noise) == 0 || time.Since(c.noise[len(c.noise)-1]) > c.r.cfg.NoiseWindow {
		c.misCfg = false
		c.noise = c.noise[:0]
		c.r.set(app.StateReady, c.r.cfg.Port)
	}
}

// FormatSAMID formats the 16 data bytes of a 0x12 answer the way
// HslCommunication does ("05.01-20160101-000123456-001234567"). For
// display and logs only.
func FormatSAMID(d []byte) string {
	if len(d) < 16 {
		return ""
	}
	le := func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 }
	return fmt.Sprintf("%02d.%02d-%d-%09d-%09d", d[0], d[2], le(d[4:8]), le(d[8:12]), le(d[12:16]))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Probe opens port, checks the SAM status and returns its module number,
// for the settings screen's "test device" button and the diagnostics CLI.
// It does not touch a card. Errors: serial errors (ErrNotFound …), or a
// CodeUnavailable *app.Error ("reader_not_responding") when the SAM does
// not answer or fails its self-test.
func Probe(ctx context.Context, port string, baud int) (samID string, err error) {
	if baud == 0 {
		baud = 115200
	}
	p, err := serial.Open(port, baud, 0)
	if err != nil {
		return "", err
	}
	defer p.Close()
	r := New(Config{Port: port, Baud: baud})
	c := &conn{r: r, p: p, buf: make([]byte, 2048)}
	resp, err := c.transact(ctx, Command{Cmd: CmdStatus, Para: ParaAny}, r.cfg.ShortTimeout)
	if err != nil {
		if errors.Is(err, errNoResponse) {
			return "", errNoAnswer
		}
		return "", err
	}
	if resp.SW3 != SWOK {
		return "", app.WrapError(fmt.Errorf("SAM status %02X: %s", resp.SW3, StatusText(resp.SW3)), app.CodeUnavailable,
			"reader_not_responding", "身份证阅读器安全模块自检失败。", "The ID-card reader's security module failed its self-test.")
	}
	resp, err = c.transact(ctx, Command{Cmd: CmdSAMID, Para: ParaAny}, r.cfg.ShortTimeout)
	if err != nil || resp.SW3 != SWOK {
		return "", nil // status answered: the reader works; the id is optional
	}
	return FormatSAMID(resp.Data), nil
}
