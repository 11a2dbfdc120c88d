package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"stationdesk/app/atomicfile"
)

// Shift is a clerk's shift at one terminal (opened and closed at the
// desk). Sales and manual checks record the shift they belong to.
type Shift struct {
	ID       int64
	Terminal string
	Operator string // who opened it
	Opened   time.Time
	Closed   time.Time // zero while open
	ClosedBy string
}

// Open reports whether the shift is still open.
func (s Shift) Open() bool { return s.ID != 0 && s.Closed.IsZero() }

// ShiftTotals are the counts the ledger keeps for a shift. Maps are never
// nil when returned by a ShiftStore.
type ShiftTotals struct {
	Tickets       int                    // single-journey tickets issued
	TicketsByFare map[int64]int          // fare (fen) → tickets
	Welfare       int                    // welfare tickets exchanged
	Overrides     int                    // of which with a supervisor override
	Checks        map[ManualDecision]int // manual checks by decision
	ChecksReason  map[string]int         // manual checks by reason code
	Upgrades      int                    // cards bound at this terminal during the shift (incl. queued)
	Unbinds       int
	CashFen       int64             // cash taken
	ByPayment     map[Payment]int64 // fen by payment method (welfare: the fares exchanged)
	Incomplete    int               // sales not completed (token not written), still open
	Waiting       int               // ticket-window records not yet forwarded to central (the whole backlog)
}

// ShiftStore keeps shifts (part of TicketStore). OpenShift fails with
// CodeConflict "shift_open" when the terminal has an open shift;
// CloseShift with CodeConflict "shift_closed" for a closed one.
type ShiftStore interface {
	OpenShift(ctx context.Context, operator string, at time.Time, a AuditEntry) (Shift, error)
	CurrentShift(ctx context.Context) (Shift, bool, error)
	CloseShift(ctx context.Context, id int64, by string, at time.Time, a AuditEntry) (Shift, error)
	ShiftTotals(ctx context.Context, sh Shift, until time.Time) (ShiftTotals, error)
}

// ShiftReport is what the shift screen shows and exports.
type ShiftReport struct {
	Shift           Shift
	Totals          ShiftTotals
	PendingUpgrades int // upgrades waiting for central (the service desk's queue)
	Until           time.Time
}

// Bar is one bar of the report chart.
type Bar struct {
	Label string
	Value int
}

// Bars returns the chart: tickets per fare, welfare tickets, manual checks
// by outcome, upgrades, in that order.
func (r ShiftReport) Bars(l Lang) []Bar {
	var out []Bar
	fares := make([]int64, 0, len(r.Totals.TicketsByFare))
	for f := range r.Totals.TicketsByFare {
		fares = append(fares, f)
	}
	slices.Sort(fares)
	for _, f := range fares {
		lbl := langPick(l, "单程票 "+Yuan(f), "Ticket "+YuanEN(f))
		out = append(out, Bar{lbl, r.Totals.TicketsByFare[f]})
	}
	out = append(out,
		Bar{langPick(l, "福利票", "Welfare"), r.Totals.Welfare},
		Bar{langPick(l, "人工查验通过", "Checks passed"), r.Totals.Checks[ManualPass]},
		Bar{langPick(l, "人工查验拒绝", "Checks refused"), r.Totals.Checks[ManualRefuse]},
		Bar{langPick(l, "卡升级", "Upgrades"), r.Totals.Upgrades},
	)
	return out
}

// Waiting returns everything not yet forwarded: ticket-window records and
// pending upgrades.
func (r ShiftReport) Waiting() int { return r.Totals.Waiting + r.PendingUpgrades }

// CSV returns the report as CSV (section, item, value), UTF-8 with a BOM
// so spreadsheet programs on Windows read the Chinese labels. It holds
// operator numbers and counts only: no personal data.
func (r ShiftReport) CSV() []byte {
	var b bytes.Buffer
	b.WriteString("\ufeff")
	w := csv.NewWriter(&b)
	tm := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(chinaTime).Format("2006-01-02 15:04:05")
	}
	rows := [][]string{
		{"section", "item", "value"},
		{"shift", "id", strconv.FormatInt(r.Shift.ID, 10)},
		{"shift", "terminal", r.Shift.Terminal},
		{"shift", "opened_by", r.Shift.Operator},
		{"shift", "opened", tm(r.Shift.Opened)},
		{"shift", "closed", tm(r.Shift.Closed)},
		{"shift", "closed_by", r.Shift.ClosedBy},
		{"shift", "report_until", tm(r.Until)},
	}
	fares := make([]int64, 0, len(r.Totals.TicketsByFare))
	for f := range r.Totals.TicketsByFare {
		fares = append(fares, f)
	}
	slices.Sort(fares)
	rows = append(rows, []string{"tickets", "single_journey_total", strconv.Itoa(r.Totals.Tickets)})
	for _, f := range fares {
		rows = append(rows, []string{"tickets_by_fare", fmt.Sprintf("%.2f", float64(f)/100), strconv.Itoa(r.Totals.TicketsByFare[f])})
	}
	rows = append(rows,
		[]string{"welfare", "exchanged", strconv.Itoa(r.Totals.Welfare)},
		[]string{"welfare", "supervisor_overrides", strconv.Itoa(r.Totals.Overrides)},
		[]string{"manual_checks", "pass", strconv.Itoa(r.Totals.Checks[ManualPass])},
		[]string{"manual_checks", "refuse", strconv.Itoa(r.Totals.Checks[ManualRefuse])},
	)
	reasons := make([]string, 0, len(r.Totals.ChecksReason))
	for k := range r.Totals.ChecksReason {
		reasons = append(reasons, k)
	}
	slices.Sort(reasons)
	for _, k := range reasons {
		rows = append(rows, []string{"manual_checks_by_reason", k, strconv.Itoa(r.Totals.ChecksReason[k])})
	}
	rows = append(rows,
		[]string{"upgrades", "bound", strconv.Itoa(r.Totals.Upgrades)},
		[]string{"upgrades", "unbound", strconv.Itoa(r.Totals.Unbinds)},
		[]string{"money", "cash_total_yuan", fmt.Sprintf("%.2f", float64(r.Totals.CashFen)/100)},
	)
	for _, p := range []Payment{PayCash, PayMobile, PayBank, PayWelfare} {
		rows = append(rows, []string{"money_by_payment", string(p), fmt.Sprintf("%.2f", float64(r.Totals.ByPayment[p])/100)})
	}
	rows = append(rows,
		[]string{"backlog", "incomplete_sales", strconv.Itoa(r.Totals.Incomplete)},
		[]string{"backlog", "records_waiting", strconv.Itoa(r.Totals.Waiting)},
		[]string{"backlog", "upgrades_waiting", strconv.Itoa(r.PendingUpgrades)},
	)
	_ = w.WriteAll(rows) // writes to a bytes.Buffer cannot fail
	return b.Bytes()
}

// ShiftsConfig configures NewShifts. Store and Audit are required.
type ShiftsConfig struct {
	Store ShiftStore
	// ExportDir is where CSV reports are written (the data folder).
	ExportDir string
	// PendingUpgrades counts upgrades waiting for central; nil: 0.
	PendingUpgrades func(ctx context.Context) (int, error)
	Clock           Clock
	Logger          *slog.Logger
}

// Shifts opens and closes shifts and builds the shift report. Safe for
// concurrent use.
type Shifts struct {
	cfg ShiftsConfig
}

// NewShifts builds the use case.
func NewShifts(cfg ShiftsConfig) (*Shifts, error) {
	if cfg.Store == nil {
		return nil, errors.New("shifts: Store is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Shifts{cfg: cfg}, nil
}

func errNoShift() error {
	return NewError(CodeConflict, "no_shift", "本窗口尚未开班，请先开班。", "No shift is open at this window; open the shift first.")
}

// Current returns the open shift (ok=false when none is open).
func (s *Shifts) Current(ctx context.Context) (Shift, bool, error) {
	return s.cfg.Store.CurrentShift(ctx)
}

// Open opens a shift for op (clerks and supervisors). CodeConflict
// "shift_open" when one is open already; CodeUnauthorized for an
// assistant (the service desk has no till).
func (s *Shifts) Open(ctx context.Context, op Operator) (Shift, error) {
	if op.Role != RoleClerk && op.Role != RoleSupervisor {
		return Shift{}, NewError(CodeUnauthorized, "role", "只有售票员或值班站长可以开班。", "Only a ticket clerk or the supervisor can open a shift.")
	}
	now := s.cfg.Clock.Now()
	return s.cfg.Store.OpenShift(ctx, op.ID, now, AuditEntry{Time: now, Operator: op.ID, Action: ActShiftOpen, Outcome: OutcomeSuccess})
}

// Report returns the current shift's report up to now; CodeConflict
// "no_shift" when none is open.
func (s *Shifts) Report(ctx context.Context) (ShiftReport, error) {
	sh, ok, err := s.cfg.Store.CurrentShift(ctx)
	if err != nil {
		return ShiftReport{}, err
	}
	if !ok {
		return ShiftReport{}, errNoShift()
	}
	return s.report(ctx, sh, s.cfg.Clock.Now())
}

func (s *Shifts) report(ctx context.Context, sh Shift, until time.Time) (ShiftReport, error) {
	t, err := s.cfg.Store.ShiftTotals(ctx, sh, until)
	if err != nil {
		return ShiftReport{}, err
	}
	rep := ShiftReport{Shift: sh, Totals: t, Until: until}
	if s.cfg.PendingUpgrades != nil {
		n, err := s.cfg.PendingUpgrades(ctx)
		if err != nil {
			s.cfg.Logger.Warn("count pending upgrades", "err", err)
		}
		rep.PendingUpgrades = n
	}
	return rep, nil
}

// Close closes the open shift, returns its final report and writes the CSV
// into ExportDir (path, "" when no ExportDir). A shift with incomplete
// sales can still be closed: they stay in the backlog. The report is
// returned even when the CSV could not be written (err then says so).
func (s *Shifts) Close(ctx context.Context, op Operator) (ShiftReport, string, error) {
	sh, ok, err := s.cfg.Store.CurrentShift(ctx)
	if err != nil {
		return ShiftReport{}, "", err
	}
	if !ok {
		return ShiftReport{}, "", errNoShift()
	}
	now := s.cfg.Clock.Now()
	rep, err := s.report(ctx, sh, now)
	if err != nil {
		return ShiftReport{}, "", err
	}
	detail := fmt.Sprintf("tickets=%d welfare=%d checks=%d/%d cash_fen=%d waiting=%d", rep.Totals.Tickets, rep.Totals.Welfare,
		rep.Totals.Checks[ManualPass], rep.Totals.Checks[ManualRefuse], rep.Totals.CashFen, rep.Waiting())
	closed, err := s.cfg.Store.CloseShift(ctx, sh.ID, op.ID, now, AuditEntry{Time: now, Operator: op.ID, Action: ActShiftClose,
		Subject: "shift:" + strconv.FormatInt(sh.ID, 10), Outcome: OutcomeSuccess, Detail: detail})
	if err != nil {
		return ShiftReport{}, "", err
	}
	rep.Shift = closed
	path, err := s.Export(rep)
	return rep, path, err
}

// Export writes rep as CSV into ExportDir atomically (temporary file,
// fsync, rename) and returns the path. Errors are CodeUnavailable
// "export_failed" (disk full, folder missing).
func (s *Shifts) Export(rep ShiftReport) (string, error) {
	if s.cfg.ExportDir == "" {
		return "", nil
	}
	name := fmt.Sprintf("shift-%d-%s.csv", rep.Shift.ID, rep.Until.In(chinaTime).Format("20060102-1504"))
	path := filepath.Join(s.cfg.ExportDir, name)
	if err := atomicfile.WriteFile(path, rep.CSV(), 0o640); err != nil {
		s.cfg.Logger.Error("shift report export failed", "err", err)
		return "", WrapError(err, CodeUnavailable, "export_failed", "班次报表文件写入失败（磁盘已满或文件夹不可写）。", "Could not write the shift report file (disk full or folder not writable).")
	}
	return path, nil
}
