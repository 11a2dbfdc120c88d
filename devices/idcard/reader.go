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
	// bounds the text+photo read [3 s] (docs/devices.md "Read sequence").
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

	waiting serial.Queue[struct{}, result] // ReadID callers

	mu    sync.Mutex
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
	r.driver().Run(ctx, r.session)
	return nil
}

// driver is the wiring this reader shares with the transit-card reader.
func (r *Reader) driver() serial.Reader[struct{}, result] {
	return serial.Reader[struct{}, result]{
		Port: r.cfg.Port, Baud: r.cfg.Baud, MinBackoff: r.cfg.MinBackoff, MaxBackoff: r.cfg.MaxBackoff,
		Interval: r.cfg.PollInterval, NoiseLimit: r.cfg.NoiseLimit, NoiseWindow: r.cfg.NoiseWindow,
		Logger: r.log, Status: r.set, Queue: &r.waiting,
		Disconnected: result{err: errDisconnected}, NotAnswering: result{err: errNoAnswer},
		Misconfigured: result{err: errMisconfigured},
	}
}

// ReadID waits for a card to be placed (or for one already lying on the
// reader and not yet read), reads it and returns the validated identity.
// It blocks until then or until ctx ends.
//
// Errors (all *app.Error, no personal data): CodeInvalid from the
// document rules (see Text.Identity) for a card whose data fails
// validation; CodeUnavailable with reason "reader_disconnected" when the
// reader goes away while waiting or reading, "replace_card" when the read
// failed twice (card lifted mid-read, radio trouble), "bad_frame" when the
// reader's answer to the read was garbled, "reader_misconfigured",
// "not_configured", and "timeout" (reader up) or "reader_not_responding"
// (reader down) when ctx ends first. A half-read card never yields an
// identity.
func (r *Reader) ReadID(ctx context.Context) (app.Identity, error) {
	if r.cfg.Port == "" {
		return app.Identity{}, errNotConfigured
	}
	res := r.waiting.Ask(ctx, struct{}{}, result{err: errNoAnswer}, result{err: errTimeout})
	return res.id, res.err
}

// conn is one session's view of the port.
type conn struct {
	r       *Reader
	link    *serial.Link[Response]
	present bool     // a card was found at the last poll
	found   Response // the last poll's answer
}

func (r *Reader) newConn(p *serial.Port) *conn {
	return &conn{r: r, link: serial.NewLink[Response](p, &responses{}, r.driver().LinkConfig(rejected))}
}

// session runs on an open port until it fails or ctx ends.
func (r *Reader) session(ctx context.Context, p *serial.Port) error {
	c := r.newConn(p)
	c.link.Stale()
	return r.driver().Converse(ctx, c.link, c.hello, c.poll, c.act)
}

// hello checks that the SAM answers its status and reads its module number.
func (c *conn) hello(ctx context.Context) (string, error) {
	r := c.r
	resp, err := c.transact(ctx, Command{Cmd: CmdStatus, Para: ParaAny}, r.cfg.ShortTimeout)
	if err != nil {
		return "", err
	}
	if resp.SW3 != SWOK {
		r.log.Warn("SAM status", "sw3", fmt.Sprintf("%02X", resp.SW3), "text", StatusText(resp.SW3))
		return "SAM: " + StatusText(resp.SW3), nil
	}
	if resp, err := c.transact(ctx, Command{Cmd: CmdSAMID, Para: ParaAny}, r.cfg.ShortTimeout); err == nil && resp.SW3 == SWOK {
		id := FormatSAMID(resp.Data)
		r.mu.Lock()
		r.samID = id
		r.mu.Unlock()
		r.log.Info("SAM ready", "sam_id", id)
	} else if err != nil && !errors.Is(err, serial.ErrNoReply) {
		return "", err
	}
	return "", nil
}

// poll asks whether a card is on the reader.
func (c *conn) poll(ctx context.Context) error {
	resp, err := c.transact(ctx, Command{Cmd: CmdCard, Para: ParaFind}, c.r.cfg.ShortTimeout)
	if err != nil {
		c.present = false
		return err
	}
	c.found = resp
	return nil
}

// act reads a found card for the first waiter.
func (c *conn) act(ctx context.Context) error {
	r := c.r
	switch c.found.SW3 {
	case SWFound:
		if !c.present {
			r.log.Debug("card present")
		}
		c.present = true
		if c.link.Misconfigured() {
			return nil
		}
		r.set(app.StateBusy, "card present")
		if r.waiting.Waiting() {
			if err := c.readCard(ctx); err != nil {
				return err
			}
			c.present = false
		}
	default:
		// 0x80: no card, or the card just read still lies there
		// (GA 467 readers do not find a card twice): normal.
		c.present = false
		if !c.link.Misconfigured() {
			r.set(app.StateReady, r.cfg.Port)
		}
	}
	return nil
}

// readCard selects and reads the card for the first waiter, retrying the
// whole sequence once (serial.TwoTries). It returns only port failures;
// card trouble goes to the waiter.
func (c *conn) readCard(ctx context.Context) error {
	r := c.r
	refind := func(ctx context.Context) (bool, error) {
		resp, err := c.transact(ctx, Command{Cmd: CmdCard, Para: ParaFind}, r.cfg.ShortTimeout)
		return err == nil && resp.SW3 == SWFound, err
	}
	last, err := serial.TwoTries(ctx, r.log, "card read failed", refind, func(ctx context.Context) error {
		id, err := c.readOnce(ctx)
		if err != nil && app.ErrorCode(err) != app.CodeInvalid {
			return err
		}
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
	})
	if err != nil || last == nil {
		return err
	}
	if w := r.waiting.Next(); w != nil {
		if errors.Is(last, serial.ErrBadFrame) {
			// The card was there and answered; the reader's frame was
			// garbled: not a lifted card, maybe the cable.
			w.Answer(result{err: errBadFrame})
		} else {
			w.Answer(result{err: errReplace})
		}
	}
	return nil
}

// readOnce runs select + read and parses the answer. Port failures come
// back as serial errors; card trouble as serial.ErrNoReply or a status error;
// invalid card data as a CodeInvalid *app.Error.
func (c *conn) readOnce(ctx context.Context) (app.Identity, error) {
	r := c.r
	resp, err := c.exchange(ctx, Command{Cmd: CmdCard, Para: ParaSelect}, serial.Exchange{Timeout: r.cfg.ShortTimeout, StopOnBadFrame: true})
	if err != nil {
		return app.Identity{}, err
	}
	if resp.SW3 != SWOK {
		return app.Identity{}, fmt.Errorf("select: %s", StatusText(resp.SW3))
	}
	// A garbled answer is not sent again: stop at it rather than wait
	// out the read timeout (the caller may give up first and be told no
	// card came).
	resp, err = c.exchange(ctx, Command{Cmd: CmdRead, Para: ParaReadBase}, serial.Exchange{Timeout: r.cfg.ReadTimeout, StopOnBadFrame: true})
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
// text block and the photo (docs/devices.md "Read reply": big-endian text and photo
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
	return c.exchange(ctx, cmd, serial.Exchange{Timeout: timeout})
}

// exchange sends cmd and waits for its response as x says.
func (c *conn) exchange(ctx context.Context, cmd Command, x serial.Exchange) (Response, error) {
	resp, err := c.link.Do(ctx, EncodeCommand(cmd), x)
	if errors.Is(err, serial.ErrNoReply) {
		return Response{}, fmt.Errorf("%w to %02X %02X", err, cmd.Cmd, cmd.Para)
	}
	return resp, err
}

// rejected says whether a framing error is a whole frame that failed its
// check, rather than stray bytes.
func rejected(err error) bool {
	return errors.Is(err, ErrChecksum) || errors.Is(err, ErrOversize) || errors.Is(err, ErrUndersize)
}

// responses is the Link's decoder: frames (Framer) parsed into responses.
// Like the Framer it drops what follows the first good response of a read.
type responses struct{ Framer }

func (d *responses) Feed(p []byte) ([]Response, []error) {
	bodies, errs := d.Framer.Feed(p)
	for _, b := range bodies {
		resp, err := ParseResponse(b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return []Response{resp}, errs
	}
	return nil, errs
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

// Probe opens port, checks the SAM status and returns its module number,
// for the settings screen's "test device" button and the diagnostics CLI.
// It does not touch a card. Errors: serial errors (ErrNotFound …), or a
// CodeUnavailable *app.Error ("reader_not_responding") when the SAM does
// not answer or fails its self-test.
func Probe(ctx context.Context, port string, baud int) (samID string, err error) {
	r := New(Config{Port: port, Baud: baud})
	return serial.Probe(port, r.cfg.Baud, errNoAnswer, func(p *serial.Port) (string, error) {
		c := r.newConn(p)
		resp, err := c.transact(ctx, Command{Cmd: CmdStatus, Para: ParaAny}, r.cfg.ShortTimeout)
		if err != nil {
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
	})
}
