package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"stationdesk/app"
	"stationdesk/offline/store"
)

// The ledger is the ticket window's durable store (app.TicketStore): sales,
// manual checks, shifts and the station's last health status per document
// token, each write committed with its audit entry (and outbox item) in
// one synchronous=FULL transaction.
var _ app.TicketStore = (*Ledger)(nil)

const (
	healthTable  = "health_cache"
	healthColumn = "sealed"
	checksTable  = "manual_checks"
	shownColumn  = "shown"
)

// Ticket-window retention (see the package comment's table).
const (
	HealthCacheKeep  = 24 * time.Hour       // longer than any staleness policy
	ManualCheckKeep  = 30 * 24 * time.Hour  // health-check records: short (PIPL art. 19)
	SaleRecordKeep   = 365 * 24 * time.Hour // sale records (token + masked document): financial follow-up
	closedShiftsKeep = 365 * 24 * time.Hour
)

type healthBlob struct {
	Color        app.HealthColor `json:"c"`
	LastNegative int64           `json:"n,omitempty"`
	AsOf         int64           `json:"a"`
}

// SaveHealth keeps the last status central gave for token, sealed.
func (l *Ledger) SaveHealth(ctx context.Context, token string, h app.HealthStatus) error {
	if token == "" {
		return nil
	}
	b := healthBlob{Color: h.Color, AsOf: ms(h.AsOf)}
	if !h.LastNegative.IsZero() {
		b.LastNegative = ms(h.LastNegative)
	}
	pt, _ := json.Marshal(b)
	sealed, err := l.keys.Seal(pt, healthTable, healthColumn, token)
	if err != nil {
		return err
	}
	return l.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO health_cache(token, sealed, as_of_ms, saved_ms) VALUES (?, ?, ?, ?)
			ON CONFLICT(token) DO UPDATE SET sealed = excluded.sealed, as_of_ms = excluded.as_of_ms, saved_ms = excluded.saved_ms
			WHERE excluded.as_of_ms >= health_cache.as_of_ms`, token, sealed, ms(h.AsOf), ms(l.clock.Now()))
		return err
	})
}

// CachedHealth returns the status kept for token.
func (l *Ledger) CachedHealth(ctx context.Context, token string) (app.HealthStatus, bool, error) {
	var sealed []byte
	err := l.db.Read().QueryRowContext(ctx, "SELECT sealed FROM health_cache WHERE token = ?", token).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return app.HealthStatus{}, false, nil
	}
	if err != nil {
		return app.HealthStatus{}, false, store.Classify(err, l.db.Path())
	}
	pt, err := l.keys.Open(sealed, healthTable, healthColumn, token)
	if err != nil {
		return app.HealthStatus{}, false, err
	}
	var b healthBlob
	if err := json.Unmarshal(pt, &b); err != nil {
		return app.HealthStatus{}, false, fmt.Errorf("ledger: health cache: %w", err)
	}
	return app.HealthStatus{Color: b.Color, LastNegative: fromMS(b.LastNegative), AsOf: fromMS(b.AsOf)}, true, nil
}

const saleCols = `idem_key, kind, state, operator, terminal, shift_id, buyer_token, buyer_masked, dest_code, dest_name, fare_fen,
	payment, assisted, override_by, token_serial, valid_until_ms, created_ms, issued_ms, last_error`

func scanSale(r scanner) (app.SaleRecord, error) {
	var s app.SaleRecord
	var kind, state, pay string
	var assisted int
	var valid, created, issued int64
	err := r.Scan(&s.Key, &kind, &state, &s.Operator, &s.Terminal, &s.ShiftID, &s.BuyerToken, &s.BuyerMasked, &s.DestCode, &s.DestName,
		&s.FareFen, &pay, &assisted, &s.OverrideBy, &s.TokenSerial, &valid, &created, &issued, &s.LastError)
	s.Kind, s.State, s.Payment, s.Assisted = app.TicketKind(kind), app.SaleState(state), app.Payment(pay), assisted == 1
	s.ValidUntil, s.Created, s.Issued = fromMS(valid), fromMS(created), fromMS(issued)
	return s, err
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func saleByKey(ctx context.Context, q querier, key string) (app.SaleRecord, bool, error) {
	s, err := scanSale(q.QueryRowContext(ctx, "SELECT "+saleCols+" FROM sales WHERE idem_key = ?", key))
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	return s, err == nil, err
}

func (l *Ledger) audit(ctx context.Context, tx *sql.Tx, a app.AuditEntry) error {
	if a.Action == "" {
		return nil
	}
	_, err := l.AppendTx(ctx, tx, a)
	return err
}

// BeginSale implements app.TicketStore.
func (l *Ledger) BeginSale(ctx context.Context, s app.SaleRecord, a app.AuditEntry) (rec app.SaleRecord, existing bool, err error) {
	if s.Key == "" || s.BuyerToken == "" || s.FareFen <= 0 || app.ContainsResidentID(s.BuyerMasked+" "+s.DestName) {
		return s, false, app.NewError(app.CodeInvalid, "sale_record", "销售记录无效。", "Invalid sale record.")
	}
	now := l.clock.Now()
	err = l.write(ctx, func(tx *sql.Tx) error {
		old, found, err := saleByKey(ctx, tx, s.Key)
		if err != nil {
			return err
		}
		if found {
			rec, existing = old, true
			if old.State != app.SaleIssueFailed && old.State != app.SaleIssuing {
				return nil
			}
			if _, err := tx.ExecContext(ctx, `UPDATE sales SET state = 'issuing', token_serial = ?, valid_until_ms = ?, updated_ms = ? WHERE idem_key = ?`,
				s.TokenSerial, ms(s.ValidUntil), ms(now), s.Key); err != nil {
				return err
			}
			rec.State, rec.TokenSerial, rec.ValidUntil = app.SaleIssuing, s.TokenSerial, fromMS(ms(s.ValidUntil))
			return l.audit(ctx, tx, a)
		}
		if s.Created.IsZero() {
			s.Created = now
		}
		assisted := 0
		if s.Assisted {
			assisted = 1
		}
		s.Terminal, s.State = l.opts.Terminal, app.SaleIssuing
		if _, err := tx.ExecContext(ctx, `INSERT INTO sales(idem_key, kind, state, operator, terminal, shift_id, buyer_token, buyer_masked,
			dest_code, dest_name, fare_fen, payment, assisted, override_by, token_serial, valid_until_ms, created_ms, updated_ms)
			VALUES (?, ?, 'issuing', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.Key, string(s.Kind), s.Operator, s.Terminal, s.ShiftID, s.BuyerToken, s.BuyerMasked, s.DestCode, s.DestName, s.FareFen,
			string(s.Payment), assisted, s.OverrideBy, s.TokenSerial, ms(s.ValidUntil), ms(s.Created), ms(now)); err != nil {
			return err
		}
		rec, existing = s, false
		rec.Created, rec.ValidUntil = fromMS(ms(s.Created)), fromMS(ms(s.ValidUntil))
		return l.audit(ctx, tx, a)
	})
	if err != nil {
		return s, false, classifySaleErr(err, l.db.Path())
	}
	return rec, existing, nil
}

func classifySaleErr(err error, path string) error {
	if store.IsConstraint(err) {
		return app.WrapError(err, app.CodeConflict, "sale_conflict", "这笔销售与账本中的记录冲突，未写票卡。", "This sale conflicts with a record in the ledger; no ticket was written.")
	}
	return store.Classify(err, path)
}

// CompleteSale implements app.TicketStore.
func (l *Ledger) CompleteSale(ctx context.Context, key, tokenSerial string, at time.Time, fwd app.ForwardItem, a app.AuditEntry) (app.SaleRecord, error) {
	var rec app.SaleRecord
	err := l.write(ctx, func(tx *sql.Tx) error {
		old, found, err := saleByKey(ctx, tx, key)
		if err != nil {
			return err
		}
		if !found {
			return app.NewError(app.CodeNotFound, "sale_not_found", "找不到这笔销售。", "No such sale.")
		}
		if old.State == app.SaleIssued {
			rec = old
			return nil // completed already (a replay): nothing more
		}
		if old.State != app.SaleIssuing && old.State != app.SaleIssueFailed {
			return app.NewError(app.CodeConflict, "sale_state", "这笔销售已作废。", "This sale was voided.")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sales SET state = 'issued', token_serial = ?, issued_ms = ?, updated_ms = ?, last_error = '' WHERE idem_key = ?`,
			tokenSerial, ms(at), ms(l.clock.Now()), key); err != nil {
			return err
		}
		if fwd.Key != "" {
			if _, err := l.EnqueueTx(ctx, tx, NewItem{Kind: fwd.Kind, Key: fwd.Key, Body: fwd.Body, Personal: fwd.Personal}); err != nil {
				return err
			}
		}
		if err := l.audit(ctx, tx, a); err != nil {
			return err
		}
		rec = old
		rec.State, rec.TokenSerial, rec.Issued, rec.LastError = app.SaleIssued, tokenSerial, fromMS(ms(at)), ""
		return nil
	})
	if err != nil {
		return rec, classifySaleErr(err, l.db.Path())
	}
	return rec, nil
}

// FailSale implements app.TicketStore.
func (l *Ledger) FailSale(ctx context.Context, key, reason string, a app.AuditEntry) error {
	return l.setSaleState(ctx, key, "issue_failed", reason, a)
}

// VoidSale implements app.TicketStore.
func (l *Ledger) VoidSale(ctx context.Context, key, reason string, a app.AuditEntry) error {
	return l.setSaleState(ctx, key, "void", reason, a)
}

func (l *Ledger) setSaleState(ctx context.Context, key, state, reason string, a app.AuditEntry) error {
	return l.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sales SET state = ?, last_error = ?, updated_ms = ? WHERE idem_key = ? AND state IN ('issuing', 'issue_failed')`,
			state, safeReason(reason), ms(l.clock.Now()), key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return app.NewError(app.CodeConflict, "sale_state", "这笔销售不是未完成状态。", "This sale is not incomplete.")
		}
		return l.audit(ctx, tx, a)
	})
}

// Sale implements app.TicketStore.
func (l *Ledger) Sale(ctx context.Context, key string) (app.SaleRecord, bool, error) {
	s, ok, err := saleByKey(ctx, l.db.Read(), key)
	return s, ok, store.Classify(err, l.db.Path())
}

// IncompleteSales implements app.TicketStore.
func (l *Ledger) IncompleteSales(ctx context.Context) ([]app.SaleRecord, error) {
	return l.querySales(ctx, "WHERE state IN ('issuing', 'issue_failed') ORDER BY created_ms, idem_key")
}

// Sales lists sales matching where (a trusted SQL suffix), for tests and
// the crash checks.
func (l *Ledger) querySales(ctx context.Context, where string, args ...any) ([]app.SaleRecord, error) {
	rows, err := l.db.Read().QueryContext(ctx, "SELECT "+saleCols+" FROM sales "+where, args...)
	if err != nil {
		return nil, store.Classify(err, l.db.Path())
	}
	defer rows.Close()
	var out []app.SaleRecord
	for rows.Next() {
		s, err := scanSale(rows)
		if err != nil {
			return nil, store.Classify(err, l.db.Path())
		}
		out = append(out, s)
	}
	return out, store.Classify(rows.Err(), l.db.Path())
}

// AllSales lists every sale, oldest first (tests, exports).
func (l *Ledger) AllSales(ctx context.Context) ([]app.SaleRecord, error) {
	return l.querySales(ctx, "ORDER BY created_ms, idem_key")
}

// SaveManualCheck implements app.TicketStore.
func (l *Ledger) SaveManualCheck(ctx context.Context, m app.ManualCheckRecord, fwd app.ForwardItem, a app.AuditEntry) (created bool, err error) {
	if m.Key == "" || m.SubjectToken == "" || app.ContainsResidentID(m.SubjectMasked+" "+m.Reason) {
		return false, app.NewError(app.CodeInvalid, "check_record", "人工查验记录无效。", "Invalid manual-check record.")
	}
	var sealed []byte
	if m.Shown != "" {
		if sealed, err = l.keys.Seal([]byte(m.Shown.Reveal()), checksTable, shownColumn, m.Key); err != nil {
			return false, err
		}
	}
	err = l.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO manual_checks(idem_key, operator, terminal, shift_id, subject_token, subject_masked,
			decision, reason, nat_window, shown, checked_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(idem_key) DO NOTHING`,
			m.Key, m.Operator, l.opts.Terminal, m.ShiftID, m.SubjectToken, m.SubjectMasked, string(m.Decision), m.Reason, string(m.Window), sealed, ms(m.Checked))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			created = false
			return nil
		}
		created = true
		if fwd.Key != "" {
			if _, err := l.EnqueueTx(ctx, tx, NewItem{Kind: fwd.Kind, Key: fwd.Key, Body: fwd.Body, Personal: fwd.Personal}); err != nil {
				return err
			}
		}
		return l.audit(ctx, tx, a)
	})
	return created, store.Classify(err, l.db.Path())
}

// ManualCheckShown opens the sealed "what was shown" of a check (tests; a
// supervisor's review would audit its use).
func (l *Ledger) ManualCheckShown(ctx context.Context, key string) (app.Sensitive, error) {
	var sealed []byte
	if err := l.db.Read().QueryRowContext(ctx, "SELECT shown FROM manual_checks WHERE idem_key = ?", key).Scan(&sealed); err != nil {
		return "", store.Classify(err, l.db.Path())
	}
	if sealed == nil {
		return "", nil
	}
	pt, err := l.keys.Open(sealed, checksTable, shownColumn, key)
	return app.Sensitive(pt), err
}

// OpenShift implements app.ShiftStore.
func (l *Ledger) OpenShift(ctx context.Context, operator string, at time.Time, a app.AuditEntry) (app.Shift, error) {
	var sh app.Shift
	err := l.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO shifts(terminal, operator, opened_ms) VALUES (?, ?, ?)", l.opts.Terminal, operator, ms(at))
		if err != nil {
			if store.IsConstraint(err) {
				return app.NewError(app.CodeConflict, "shift_open", "本窗口已开班。", "A shift is already open at this window.")
			}
			return err
		}
		id, _ := res.LastInsertId()
		sh = app.Shift{ID: id, Terminal: l.opts.Terminal, Operator: operator, Opened: fromMS(ms(at))}
		if a.Subject == "" {
			a.Subject = fmt.Sprintf("shift:%d", id)
		}
		return l.audit(ctx, tx, a)
	})
	return sh, store.Classify(err, l.db.Path())
}

func scanShift(r scanner) (app.Shift, error) {
	var s app.Shift
	var opened, closed int64
	err := r.Scan(&s.ID, &s.Terminal, &s.Operator, &opened, &closed, &s.ClosedBy)
	s.Opened, s.Closed = fromMS(opened), fromMS(closed)
	return s, err
}

// CurrentShift implements app.ShiftStore.
func (l *Ledger) CurrentShift(ctx context.Context) (app.Shift, bool, error) {
	s, err := scanShift(l.db.Read().QueryRowContext(ctx,
		"SELECT id, terminal, operator, opened_ms, closed_ms, closed_by FROM shifts WHERE terminal = ? AND closed_ms = 0", l.opts.Terminal))
	if errors.Is(err, sql.ErrNoRows) {
		return app.Shift{}, false, nil
	}
	if err != nil {
		return app.Shift{}, false, store.Classify(err, l.db.Path())
	}
	return s, true, nil
}

// CloseShift implements app.ShiftStore.
func (l *Ledger) CloseShift(ctx context.Context, id int64, by string, at time.Time, a app.AuditEntry) (app.Shift, error) {
	var sh app.Shift
	err := l.write(ctx, func(tx *sql.Tx) error {
		closedMS := max(ms(at), 1)
		res, err := tx.ExecContext(ctx, "UPDATE shifts SET closed_ms = ?, closed_by = ? WHERE id = ? AND closed_ms = 0", closedMS, by, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return app.NewError(app.CodeConflict, "shift_closed", "该班次已结束。", "This shift is already closed.")
		}
		if sh, err = scanShift(tx.QueryRowContext(ctx, "SELECT id, terminal, operator, opened_ms, closed_ms, closed_by FROM shifts WHERE id = ?", id)); err != nil {
			return err
		}
		return l.audit(ctx, tx, a)
	})
	return sh, store.Classify(err, l.db.Path())
}

// ShiftTotals implements app.ShiftStore: sales and checks recorded under
// the shift, upgrades audited at this terminal between its opening and
// until, and the ticket window's current backlog.
func (l *Ledger) ShiftTotals(ctx context.Context, sh app.Shift, until time.Time) (app.ShiftTotals, error) {
	t := app.ShiftTotals{TicketsByFare: map[int64]int{}, Checks: map[app.ManualDecision]int{}, ChecksReason: map[string]int{}, ByPayment: map[app.Payment]int64{}}
	tx, err := l.db.Read().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return t, store.Classify(err, l.db.Path())
	}
	defer tx.Rollback()
	fail := func(err error) (app.ShiftTotals, error) {
		return t, store.Classify(fmt.Errorf("ledger: shift totals: %w", err), l.db.Path())
	}
	rows, err := tx.QueryContext(ctx, `SELECT kind, fare_fen, payment, override_by != '', count(*) FROM sales
		WHERE shift_id = ? AND state = 'issued' GROUP BY 1, 2, 3, 4`, sh.ID)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var kind, pay string
		var fare int64
		var over bool
		var n int
		if err := rows.Scan(&kind, &fare, &pay, &over, &n); err != nil {
			rows.Close()
			return fail(err)
		}
		if app.TicketKind(kind) == app.KindWelfare {
			t.Welfare += n
			if over {
				t.Overrides += n
			}
		} else {
			t.Tickets += n
			t.TicketsByFare[fare] += n
		}
		t.ByPayment[app.Payment(pay)] += fare * int64(n)
	}
	rows.Close()
	t.CashFen = t.ByPayment[app.PayCash]
	rows, err = tx.QueryContext(ctx, "SELECT decision, reason, count(*) FROM manual_checks WHERE shift_id = ? GROUP BY 1, 2", sh.ID)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var d, r string
		var n int
		if err := rows.Scan(&d, &r, &n); err != nil {
			rows.Close()
			return fail(err)
		}
		t.Checks[app.ManualDecision(d)] += n
		t.ChecksReason[r] += n
	}
	rows.Close()
	// Upgrades done at this desk during the shift: direct binds and binds
	// queued for later (a queued bind forwarded later is audited again
	// with "forwarded" and is not counted twice).
	end := until
	if !sh.Closed.IsZero() && sh.Closed.Before(end) {
		end = sh.Closed
	}
	if err := tx.QueryRowContext(ctx, `SELECT
		coalesce(sum(action IN ('card.bind', 'card.bind_queued')), 0),
		coalesce(sum(action IN ('card.unbind', 'card.unbind_queued')), 0)
		FROM audit_log WHERE terminal = ? AND at_ms >= ? AND at_ms <= ? AND outcome = 'success'
		AND action IN ('card.bind', 'card.bind_queued', 'card.unbind', 'card.unbind_queued') AND detail NOT LIKE 'forwarded%'`,
		l.opts.Terminal, ms(sh.Opened), ms(end)).Scan(&t.Upgrades, &t.Unbinds); err != nil {
		return fail(err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sales WHERE state IN ('issuing', 'issue_failed')").Scan(&t.Incomplete); err != nil {
		return fail(err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE state IN ('pending', 'sent') AND kind IN (?, ?)`,
		app.ForwardSale, app.ForwardManualCheck).Scan(&t.Waiting); err != nil {
		return fail(err)
	}
	return t, nil
}

// DueKinds is Due restricted to the given kinds, so the ticket window's
// forwarder and another worker sharing the outbox do not crowd each
// other's batches.
func (l *Ledger) DueKinds(ctx context.Context, kinds []string, limit int) ([]Item, error) {
	if len(kinds) == 0 {
		return l.Due(ctx, limit)
	}
	if limit <= 0 {
		limit = 100
	}
	args := []any{}
	for _, k := range kinds {
		args = append(args, k)
	}
	args = append(args, ms(l.clock.Now()), limit)
	return l.listItems(ctx, "due", true, "SELECT "+itemCols+` FROM outbox
		WHERE kind IN (?`+strings.Repeat(", ?", len(kinds)-1)+`) AND state IN ('pending', 'sent') AND next_attempt_ms <= ? ORDER BY id LIMIT ?`, args...)
}

// PendingKinds lists not-yet-confirmed items of the given kinds (pending,
// sent, failed), oldest first, at most limit (≤ 0: 1000), without personal
// data; total is the number of such items.
func (l *Ledger) PendingKinds(ctx context.Context, kinds []string, limit int) (items []Item, total int, err error) {
	if limit <= 0 {
		limit = 1000
	}
	args := []any{}
	for _, k := range kinds {
		args = append(args, k)
	}
	in := "(?" + strings.Repeat(", ?", len(kinds)-1) + ")"
	if err := l.db.Read().QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE state != 'confirmed' AND kind IN "+in, args...).Scan(&total); err != nil {
		return nil, 0, store.Classify(err, l.db.Path())
	}
	items, err = l.listItems(ctx, "pending", false, "SELECT "+itemCols+" FROM outbox WHERE state != 'confirmed' AND kind IN "+in+" ORDER BY id LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, 0, err
	}
	return items, total, nil
}

// MarkSentKeys is MarkSent for many items in one transaction (a
// forwarding batch); keys not pending or sent are skipped.
func (l *Ledger) MarkSentKeys(ctx context.Context, keys []string) error {
	next, now := ms(l.clock.Now().Add(l.opts.OutboxLease)), ms(l.clock.Now())
	return l.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE outbox SET state = 'sent', attempts = attempts + 1, next_attempt_ms = ?, updated_ms = ?
			WHERE idem_key = ? AND state IN ('pending', 'sent')`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, k := range keys {
			if _, err := st.ExecContext(ctx, next, now, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// MarkConfirmedKeys is MarkConfirmed for many items in one transaction:
// state confirmed and the sealed personal payload deleted.
func (l *Ledger) MarkConfirmedKeys(ctx context.Context, keys []string) error {
	now := ms(l.clock.Now())
	return l.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE outbox SET state = 'confirmed', personal = NULL, last_error = '',
			done_ms = CASE WHEN state = 'confirmed' THEN done_ms ELSE ? END, updated_ms = ? WHERE idem_key = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, k := range keys {
			if _, err := st.ExecContext(ctx, now, now, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// purgeTicketing applies the ticket window's retention inside Purge's
// transaction.
func purgeTicketing(ctx context.Context, tx *sql.Tx, now time.Time, rep *PurgeReport) error {
	for _, step := range []struct {
		n    *int
		stmt string
		arg  int64
	}{
		{&rep.HealthCacheDeleted, "DELETE FROM health_cache WHERE saved_ms < ?", ms(now.Add(-HealthCacheKeep))},
		{&rep.ManualChecksDeleted, "DELETE FROM manual_checks WHERE checked_ms < ?", ms(now.Add(-ManualCheckKeep))},
		{&rep.SalesDeleted, "DELETE FROM sales WHERE state IN ('issued', 'void') AND updated_ms < ?", ms(now.Add(-SaleRecordKeep))},
		{&rep.ShiftsDeleted, `DELETE FROM shifts WHERE closed_ms != 0 AND closed_ms < ?
			AND id NOT IN (SELECT shift_id FROM sales) AND id NOT IN (SELECT shift_id FROM manual_checks)`, ms(now.Add(-closedShiftsKeep))},
	} {
		res, err := tx.ExecContext(ctx, step.stmt, step.arg)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		*step.n = int(n)
	}
	return nil
}

// Retry is one item for MarkRetryKeys.
type Retry struct {
	Key    string
	Reason string
	Next   time.Time
}

// MarkRetryKeys is MarkRetry for many items in one transaction.
func (l *Ledger) MarkRetryKeys(ctx context.Context, rs []Retry) error {
	now := ms(l.clock.Now())
	return l.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE outbox SET state = 'pending', last_error = ?, next_attempt_ms = ?, updated_ms = ?
			WHERE idem_key = ? AND state IN ('pending', 'sent')`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range rs {
			if _, err := st.ExecContext(ctx, safeReason(r.Reason), ms(r.Next), now, r.Key); err != nil {
				return err
			}
		}
		return nil
	})
}
