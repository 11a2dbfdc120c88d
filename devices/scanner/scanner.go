package scanner

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"stationdesk/app"
	"stationdesk/devices/serial"
)

// Config configures a Scanner. Zero values take the defaults in brackets.
type Config struct {
	Port string // "" = not configured
	Baud int    // [9600]
	// IdleGap ends a code that has no terminator [100 ms]. The serial
	// read timeout is 100 ms, so the effective gap is 100–200 ms.
	IdleGap time.Duration
	MaxLen  int // [DefaultMaxLen]
	// Freshness is how long a code scanned while nobody waited is kept
	// for the next Scan [2 s]; older codes are dropped so a stale code is
	// never taken for the current rider's.
	Freshness              time.Duration
	MinBackoff, MaxBackoff time.Duration
	Board                  *app.StatusBoard
	Component              app.Component // [app.CompScanner]
	Logger                 *slog.Logger
}

// Scanner is the serial QR scanner driver. Safe for concurrent use.
type Scanner struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	queue   []scanned                         // codes not yet taken, oldest first (at most 8)
	waiting serial.Pending[struct{}, scanned] // added and taken with mu held (mu orders them against queue)
}

type scanned struct {
	code string
	err  error
	at   time.Time
}

var _ app.Scanner = (*Scanner)(nil)

var (
	errTooLong = app.NewError(app.CodeInvalid, "code_too_long",
		"扫描的码过长，不是有效的乘车码或健康码。",
		"The scanned code is too long to be a ride or health code.")
	errNotConfigured = app.NewError(app.CodeUnavailable, "not_configured",
		"未配置扫码器。", "No code scanner is configured.")
	errDisconnected = app.NewError(app.CodeUnavailable, "reader_disconnected",
		"扫码器已断开，请检查连接线。", "The code scanner was disconnected; check the cable.")
	errTimeout = app.NewError(app.CodeUnavailable, "timeout",
		"等待扫码超时。", "No code was scanned in time.")
)

// New returns a Scanner for cfg; call Run to start it.
func New(cfg Config) *Scanner {
	if cfg.Baud == 0 {
		cfg.Baud = 9600
	}
	if cfg.IdleGap <= 0 {
		cfg.IdleGap = 100 * time.Millisecond
	}
	if cfg.MaxLen <= 0 {
		cfg.MaxLen = DefaultMaxLen
	}
	if cfg.Freshness <= 0 {
		cfg.Freshness = 2 * time.Second
	}
	if cfg.Component == "" {
		cfg.Component = app.CompScanner
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scanner{cfg: cfg, log: log.With("device", "scanner", "port", cfg.Port)}
}

func (s *Scanner) set(st app.State, detail string) {
	if s.cfg.Board != nil {
		s.cfg.Board.Set(s.cfg.Component, st, detail)
	}
}

// Run reads the scanner until ctx ends, then returns nil.
func (s *Scanner) Run(ctx context.Context) error {
	serial.Drive(ctx, serial.DriveConfig{
		Keep: serial.KeepConfig{Path: s.cfg.Port, Baud: s.cfg.Baud, Logger: s.log,
			MinBackoff: s.cfg.MinBackoff, MaxBackoff: s.cfg.MaxBackoff},
		Status: s.set, ReadyOnOpen: true, Down: func() { s.failAll(errDisconnected) },
	}, s.session)
	return nil
}

func (s *Scanner) session(ctx context.Context, p *serial.Port) error {
	sp := NewSplitter(s.cfg.MaxLen)
	buf := make([]byte, 512)
	last := time.Now()
	for ctx.Err() == nil {
		n, err := p.Read(buf)
		if err != nil && !errors.Is(err, serial.ErrTimeout) {
			return err // a half-received code is dropped with the splitter
		}
		now := time.Now()
		if n > 0 {
			last = now
			codes, errs := sp.Feed(buf[:n])
			for _, c := range codes {
				s.deliver(scanned{code: c, at: now})
			}
			for range errs {
				s.deliver(scanned{err: errTooLong, at: now})
			}
			continue
		}
		if sp.Pending() && now.Sub(last) >= s.cfg.IdleGap {
			if c, err, ok := sp.Idle(); ok {
				if err != nil {
					s.deliver(scanned{err: errTooLong, at: now})
				} else {
					s.deliver(scanned{code: c, at: now})
				}
			}
		}
	}
	return ctx.Err()
}

func (s *Scanner) deliver(x scanned) {
	if x.err != nil {
		s.log.Warn("over-long code dropped")
	} else {
		s.log.Info("code scanned", "len", len(x.code))
	}
	s.mu.Lock()
	if w := s.waiting.Next(); w != nil {
		s.mu.Unlock()
		w.Answer(x)
		return
	}
	s.queue = append(s.queue, x)
	if len(s.queue) > 8 {
		s.queue = s.queue[len(s.queue)-8:]
	}
	s.mu.Unlock()
}

func (s *Scanner) failAll(err error) { s.waiting.AnswerAll(scanned{err: err}) }

// Waiting reports whether a Scan is waiting for a code. Diagnostics and
// tests use it to know a scan is queued before they scan or pull the
// cable.
func (s *Scanner) Waiting() bool { return s.waiting.Waiting() }

// Scan returns the next code: one scanned within the last Freshness while
// nobody waited, or the next one to arrive, until ctx ends. Errors (*app.Error):
// CodeInvalid "code_too_long"; CodeUnavailable "reader_disconnected" (the
// scanner went away while waiting), "not_configured", "timeout".
func (s *Scanner) Scan(ctx context.Context) (string, error) {
	if s.cfg.Port == "" {
		return "", errNotConfigured
	}
	s.mu.Lock()
	for len(s.queue) > 0 {
		x := s.queue[0]
		s.queue = s.queue[1:]
		if time.Since(x.at) <= s.cfg.Freshness {
			s.mu.Unlock()
			return x.code, x.err
		}
	}
	w := s.waiting.Add(struct{}{})
	s.mu.Unlock()
	if x, ok := s.waiting.Wait(ctx, w); ok {
		return x.code, x.err
	}
	return "", errTimeout
}
