package transitcard

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
	Port  string // serial port path; "" = not configured
	Baud  int    // [115200]
	Codec Codec  // [STXCodec]
	// PollInterval is the pause between find-card polls [150 ms].
	PollInterval time.Duration
	// Timeout bounds one request/reply exchange [500 ms].
	Timeout                time.Duration
	NoiseLimit             int           // [5] bad frames within NoiseWindow mark the reader misconfigured
	NoiseWindow            time.Duration // [10 s]
	MinBackoff, MaxBackoff time.Duration // reopen delays, see serial.KeepConfig
	Board                  *app.StatusBoard
	Component              app.Component // [app.CompCardReader]
	Clock                  app.Clock     // [app.SystemClock]
	Logger                 *slog.Logger
}

// Reader is the transit-card reader driver. Run polls the reader for the
// life of a context; ReadCard and IssueSingleJourney queue a job that runs
// as soon as a card is in the field. Safe for concurrent use.
type Reader struct {
	cfg Config
	log *slog.Logger

	jobs serial.Queue[job, jobResult] // waiting ReadCard and IssueSingleJourney callers

	mu    sync.Mutex
	model string
}

// job is what a caller waits for: a read, or the issue of a token.
type job struct {
	issue *app.TicketSpec
}

type jobResult struct {
	card  app.Card
	token string
	err   error
}

var _ app.CardReader = (*Reader)(nil)

// New returns a Reader for cfg; call Run to start it.
func New(cfg Config) *Reader {
	if cfg.Baud == 0 {
		cfg.Baud = 115200
	}
	if cfg.Codec == nil {
		cfg.Codec = STXCodec{}
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 150 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	if cfg.Component == "" {
		cfg.Component = app.CompCardReader
	}
	if cfg.Clock == nil {
		cfg.Clock = app.SystemClock{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reader{cfg: cfg, log: log.With("device", "transitcard", "port", cfg.Port, "codec", cfg.Codec.Name())}
}

func (r *Reader) set(s app.State, detail string) {
	if r.cfg.Board != nil {
		r.cfg.Board.Set(r.cfg.Component, s, detail)
	}
}

// Model returns the reader's version answer ("" before), for diagnostics.
func (r *Reader) Model() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.model
}

// Run drives the reader until ctx ends, then returns nil.
func (r *Reader) Run(ctx context.Context) error {
	r.driver().Run(ctx, r.session)
	return nil
}

// driver is the wiring this reader shares with the ID-card reader.
func (r *Reader) driver() serial.Reader[job, jobResult] {
	return serial.Reader[job, jobResult]{
		Port: r.cfg.Port, Baud: r.cfg.Baud, MinBackoff: r.cfg.MinBackoff, MaxBackoff: r.cfg.MaxBackoff,
		Interval: r.cfg.PollInterval, NoiseLimit: r.cfg.NoiseLimit, NoiseWindow: r.cfg.NoiseWindow,
		Logger: r.log, Status: r.set, Queue: &r.jobs,
		Disconnected: jobResult{err: errDisconnected}, NotAnswering: jobResult{err: errNoAnswer},
		Misconfigured: jobResult{err: errMisconfigured},
	}
}

// Waiting reports whether a ReadCard or IssueSingleJourney is waiting for
// a card. Diagnostics and tests use it to know a request is queued before
// they place a card or pull the cable.
func (r *Reader) Waiting() bool { return r.jobs.Waiting() }

// ReadCard waits for a card in the field (one already lying there counts)
// and returns what it says; see app.CardReader and ReadCard (the
// function) for the number and the errors.
func (r *Reader) ReadCard(ctx context.Context) (app.Card, error) {
	res := r.submit(ctx, job{})
	return res.card, res.err
}

// IssueSingleJourney writes spec onto the blank token in the field (it
// waits for one) and returns the token serial. The spec is checked first
// (CheckTicketSpec at the Clock's time).
func (r *Reader) IssueSingleJourney(ctx context.Context, spec app.TicketSpec) (string, error) {
	if err := CheckTicketSpec(spec, r.cfg.Clock.Now()); err != nil {
		return "", err
	}
	res := r.submit(ctx, job{issue: &spec})
	return res.token, res.err
}

func (r *Reader) submit(ctx context.Context, j job) jobResult {
	if r.cfg.Port == "" {
		return jobResult{err: errNotConfigured}
	}
	return r.jobs.Ask(ctx, j, jobResult{err: errNoAnswer}, jobResult{err: errTimeout})
}

var errCardGone = errors.New("transitcard: card left the field")

type conn struct {
	r     *Reader
	link  *serial.Link[Reply]
	found FoundCard // the last poll's card, when present
	// present says a card was in the field at the last poll.
	present bool
	// lastLogged is the UID of the card last logged as read; cleared when
	// the field is empty, so the next placement is logged again.
	lastLogged string
}

func (r *Reader) newConn(p *serial.Port) *conn {
	return &conn{r: r, link: serial.NewLink[Reply](p, r.cfg.Codec.NewDecoder(), r.driver().LinkConfig(nil))}
}

func (r *Reader) session(ctx context.Context, p *serial.Port) error {
	c := r.newConn(p)
	c.link.Stale()
	return r.driver().Converse(ctx, c.link, c.hello, c.poll, c.act)
}

// hello asks the reader for its version.
func (c *conn) hello(ctx context.Context) (string, error) {
	r := c.r
	rep, err := c.transact(ctx, Request{Op: OpVersion})
	if err != nil {
		return "", err
	}
	if !r.cfg.Codec.OK(OpVersion, rep.Status) {
		return fmt.Sprintf("reader status %04X", rep.Status), nil
	}
	r.mu.Lock()
	r.model = versionText(rep.Data)
	r.mu.Unlock()
	r.log.Info("card reader ready", "model", versionText(rep.Data))
	return "", nil
}

// poll looks for a card in the field.
func (c *conn) poll(ctx context.Context) error {
	found, present, err := c.find(ctx)
	if err != nil {
		return err
	}
	c.found, c.present = found, present
	return nil
}

// act runs the oldest job on the card in the field.
func (c *conn) act(ctx context.Context) error {
	r := c.r
	if c.link.Misconfigured() {
		return nil
	}
	if !c.present {
		c.lastLogged = ""
		r.set(app.StateReady, r.cfg.Port)
		return nil
	}
	r.set(app.StateBusy, "card present")
	if j := r.jobs.Next(); j != nil {
		return c.run(ctx, j, c.found)
	}
	return nil
}

// find polls for a card.
func (c *conn) find(ctx context.Context) (FoundCard, bool, error) {
	rep, err := c.transact(ctx, Request{Op: OpFindCard})
	if err != nil {
		return FoundCard{}, false, err
	}
	cod := c.r.cfg.Codec
	if cod.OK(OpFindCard, rep.Status) && len(rep.Data) >= 1 {
		return FoundCard{Type: rep.Data[0], UID: rep.Data[1:]}, true, nil
	}
	return FoundCard{}, false, nil
}

// run executes one job on the card in the field, retrying once (with a
// fresh find) when the card stops answering (serial.TwoTries). Only port
// failures are returned; everything else goes to the job.
func (c *conn) run(ctx context.Context, call *serial.Call[job, jobResult], found FoundCard) error {
	j := call.Req
	r := c.r
	refind := func(ctx context.Context) (bool, error) {
		f, present, err := c.find(ctx)
		if err == nil && present {
			found = f
		}
		return present, err
	}
	last, err := serial.TwoTries(ctx, r.log, "card operation failed", refind, func(ctx context.Context) error {
		var res jobResult
		var err error
		if j.issue != nil {
			res.token, err = IssueSingleJourney(ctx, c, *j.issue)
		} else {
			res.card, err = ReadCard(ctx, c, found)
		}
		if err != nil && app.ErrorCode(err) != app.CodeInvalid {
			return err
		}
		res.err = err
		call.Answer(res)
		if err != nil {
			r.log.Info("card refused", "reason", app.ErrorReason(err))
		} else if j.issue != nil {
			r.log.Info("single-journey token issued", "fare_fen", j.issue.FareFen, "origin", j.issue.Origin)
		} else if uid := string(found.UID); uid != c.lastLogged {
			// A card left lying on the reader is read again for every
			// waiting screen: log it once per placement, not per read.
			c.lastLogged = uid
			r.log.Info("card read", "card", res.card)
		}
		return nil
	})
	switch {
	case err != nil:
		call.Answer(jobResult{err: errDisconnected})
		return err
	case last != nil:
		call.Answer(jobResult{err: errReplace})
	}
	return nil
}

// Transmit implements Transceiver over the reader's APDU command.
func (c *conn) Transmit(ctx context.Context, capdu []byte) ([]byte, error) {
	rep, err := c.transact(ctx, Request{Op: OpAPDU, Data: capdu})
	if err != nil {
		return nil, err
	}
	cod := c.r.cfg.Codec
	switch {
	case cod.OK(OpAPDU, rep.Status):
		return rep.Data, nil
	case cod.NoCard(rep.Status):
		return nil, errCardGone
	}
	return nil, fmt.Errorf("reader status %04X", rep.Status)
}

func (c *conn) transact(ctx context.Context, req Request) (Reply, error) {
	frame, err := c.r.cfg.Codec.Encode(req)
	if err != nil {
		return Reply{}, err
	}
	return c.link.Do(ctx, frame, serial.Exchange{Timeout: c.r.cfg.Timeout})
}

// versionText renders the printable part of a version answer.
func versionText(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 0x20 && c < 0x7F {
			out = append(out, c)
		} else if len(out) > 0 && out[len(out)-1] != ' ' {
			out = append(out, ' ')
		}
	}
	if len(out) > 64 {
		out = out[:64]
	}
	return string(out)
}

// Probe opens port and asks the reader for its version, for the settings
// screen's "test device" button and the diagnostics CLI. Errors: serial
// errors (ErrNotFound …) or a CodeUnavailable *app.Error
// ("reader_not_responding").
func Probe(ctx context.Context, port string, baud int, codec Codec) (model string, err error) {
	r := New(Config{Port: port, Baud: baud, Codec: codec})
	return serial.Probe(port, r.cfg.Baud, errNoAnswer, func(p *serial.Port) (string, error) {
		rep, err := r.newConn(p).transact(ctx, Request{Op: OpVersion})
		if err != nil {
			return "", err
		}
		if !r.cfg.Codec.OK(OpVersion, rep.Status) {
			return "", errNoAnswer
		}
		return versionText(rep.Data), nil
	})
}
