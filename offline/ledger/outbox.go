package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode"

	"stationdesk/app"
	"stationdesk/offline/store"
)

// State is where an outbox item is in store-and-forward:
// pending → sent → confirmed, or → failed; sent → pending again on a
// retryable error (MarkRetry) or when its lease runs out.
type State string

// Outbox states.
const (
	StatePending   State = "pending"   // waiting to be sent
	StateSent      State = "sent"      // handed to central, outcome not known yet
	StateConfirmed State = "confirmed" // central confirmed; personal payload deleted
	StateFailed    State = "failed"    // central refused it for good; needs a person
)

// NewItem is what a use case enqueues. Key is the idempotency key, made
// when the form opened and sent to central as Idempotency-Key. Body is
// the non-personal part (tokens, masked values, fares) stored in clear;
// Enqueue refuses a Body that holds something shaped like an ID number.
// Personal holds the fields central needs in full (e.g. ID number and name
// for a pending binding); it is sealed with AES-256-GCM under the station
// key, additional data "outbox"/"personal"/Key, and deleted at
// confirmation.
type NewItem struct {
	Kind     string
	Key      string
	Body     []byte
	Personal app.Sensitive
}

// Item is an outbox row. Personal is filled only by Due (for sending);
// it redacts itself when printed.
type Item struct {
	ID          int64
	Kind        string
	Key         string
	Body        []byte
	Personal    app.Sensitive
	State       State
	Attempts    int
	LastError   string // safe reason code from the sender
	Created     time.Time
	Updated     time.Time
	NextAttempt time.Time
	Done        time.Time // confirmed or failed at
}

const (
	outboxTable    = "outbox"
	personalColumn = "personal"
	maxKeyLen      = 128
	maxKindLen     = 64
	maxBody        = 64 << 10
	maxPersonal    = 64 << 10
)

func errOutbox(reason, zh, en string) error { return app.NewError(app.CodeInvalid, reason, zh, en) }

func printable(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// Enqueue stores it as pending in its own durable transaction. The same
// Key twice stores one row: created is false the second time and the
// call succeeds if Kind and Body are the same, else it is CodeConflict
// "idempotency_mismatch" (a key reused for a different record is a bug).
// Errors: CodeInvalid "outbox_item"/"outbox_pii", store errors
// ("disk_full").
func (l *Ledger) Enqueue(ctx context.Context, it NewItem) (created bool, err error) {
	err = l.write(ctx, func(tx *sql.Tx) error {
		created, err = l.EnqueueTx(ctx, tx, it)
		return err
	})
	return created, err
}

// EnqueueTx is Enqueue inside the caller's ledger transaction, so a sale
// record, its audit entry and its outbox item commit together.
func (l *Ledger) EnqueueTx(ctx context.Context, tx *sql.Tx, it NewItem) (created bool, err error) {
	if !printable(it.Key, maxKeyLen) || !printable(it.Kind, maxKindLen) || len(it.Body) > maxBody || len(it.Personal) > maxPersonal {
		return false, errOutbox("outbox_item", "待转发记录无效（类型、幂等键或内容长度）。", "Invalid outbox item (kind, idempotency key or size).")
	}
	if app.ContainsResidentID(string(it.Body)) || app.ContainsResidentID(it.Key) {
		return false, errOutbox("outbox_pii", "待转发记录的明文部分含有疑似身份证号，已拒绝。", "The clear part of the outbox item looks like it holds an ID number; refused.")
	}
	var sealed []byte
	if it.Personal != "" {
		sealed, err = l.keys.Seal([]byte(it.Personal.Reveal()), outboxTable, personalColumn, it.Key)
		if err != nil {
			return false, err
		}
	}
	now := ms(l.clock.Now())
	body := it.Body
	if body == nil {
		body = []byte{}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO outbox(kind, idem_key, body, personal, state, created_ms, updated_ms, next_attempt_ms)
		VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT(idem_key) DO NOTHING`,
		it.Kind, it.Key, body, sealed, now, now, now)
	if err != nil {
		return false, fmt.Errorf("ledger: enqueue: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	var kind string
	var oldBody []byte
	if err := tx.QueryRowContext(ctx, "SELECT kind, body FROM outbox WHERE idem_key = ?", it.Key).Scan(&kind, &oldBody); err != nil {
		return false, fmt.Errorf("ledger: enqueue: %w", err)
	}
	if kind != it.Kind || string(oldBody) != string(body) {
		return false, app.NewError(app.CodeConflict, "idempotency_mismatch",
			"同一幂等键已用于另一条记录。", "This idempotency key was already used for a different record.")
	}
	return false, nil
}

const itemCols = `id, kind, idem_key, body, personal, state, attempts, last_error, created_ms, updated_ms, next_attempt_ms, done_ms`

func (l *Ledger) scanItem(r scanner, decrypt bool) (Item, error) {
	var it Item
	var sealed []byte
	var state string
	var created, updated, next, done int64
	if err := r.Scan(&it.ID, &it.Kind, &it.Key, &it.Body, &sealed, &state, &it.Attempts, &it.LastError, &created, &updated, &next, &done); err != nil {
		return it, err
	}
	it.State = State(state)
	it.Created, it.Updated, it.NextAttempt, it.Done = fromMS(created), fromMS(updated), fromMS(next), fromMS(done)
	if decrypt && sealed != nil {
		pt, err := l.keys.Open(sealed, outboxTable, personalColumn, it.Key)
		if err != nil {
			return it, err
		}
		it.Personal = app.Sensitive(pt)
	}
	return it, nil
}

// Due returns up to limit items to send now, oldest first: pending items
// and sent items whose lease ran out (the send may have died; central
// deduplicates by key), with Personal decrypted. Call MarkSent before
// sending each.
func (l *Ledger) Due(ctx context.Context, limit int) ([]Item, error) {
	if limit <= 0 {
		limit = 100
	}
	return l.listItems(ctx, "due", true, "SELECT "+itemCols+` FROM outbox
		WHERE state IN ('pending', 'sent') AND next_attempt_ms <= ? ORDER BY id LIMIT ?`, ms(l.clock.Now()), limit)
}

// listItems runs an outbox query selecting itemCols and scans every row,
// with the personal payload opened when personal is set (for sending) and
// left sealed otherwise (for screens). Errors name what and are classified.
func (l *Ledger) listItems(ctx context.Context, what string, personal bool, q string, args ...any) ([]Item, error) {
	rows, err := l.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, store.Classify(fmt.Errorf("ledger: %s: %w", what, err), l.db.Path())
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		it, err := l.scanItem(rows, personal)
		if err != nil {
			return nil, store.Classify(fmt.Errorf("ledger: %s: %w", what, err), l.db.Path())
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, store.Classify(fmt.Errorf("ledger: %s: %w", what, err), l.db.Path())
	}
	return out, nil
}

func errNoItem() error {
	return app.NewError(app.CodeNotFound, "outbox_item_not_found", "找不到该待转发记录。", "No outbox item with that key.")
}

// transition updates the item with key if its state is one of from.
// It returns errNoItem for an unknown key and CodeConflict
// "outbox_state" for a state that does not allow the move.
func (l *Ledger) transition(ctx context.Context, key string, from []State, set string, args ...any) error {
	return l.write(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, "SELECT state FROM outbox WHERE idem_key = ?", key).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoItem()
		}
		if err != nil {
			return err
		}
		ok := false
		for _, f := range from {
			ok = ok || State(state) == f
		}
		if !ok {
			return app.NewError(app.CodeConflict, "outbox_state",
				fmt.Sprintf("待转发记录状态为 %s，不能进行此操作。", state),
				fmt.Sprintf("The outbox item is %s; this step does not apply.", state))
		}
		_, err = tx.ExecContext(ctx, "UPDATE outbox SET "+set+", updated_ms = ? WHERE idem_key = ?",
			append(args, ms(l.clock.Now()), key)...)
		return err
	})
}

func safeReason(r string) string {
	if len(r) > 128 {
		r = r[:128]
	}
	if app.ContainsResidentID(r) {
		return "redacted"
	}
	b := []rune{}
	for _, c := range r {
		if !unicode.IsControl(c) {
			b = append(b, c)
		}
	}
	return string(b)
}

// MarkSent records that the item is being sent: attempts+1, state sent,
// and out of Due for Options.OutboxLease.
func (l *Ledger) MarkSent(ctx context.Context, key string) error {
	next := ms(l.clock.Now().Add(l.opts.OutboxLease))
	return l.transition(ctx, key, []State{StatePending, StateSent}, "state = 'sent', attempts = attempts + 1, next_attempt_ms = ?", next)
}

// MarkRetry puts a sent item back to pending after a retryable failure
// (timeout, 5xx), not before next. reason is a short safe code.
func (l *Ledger) MarkRetry(ctx context.Context, key, reason string, next time.Time) error {
	return l.transition(ctx, key, []State{StatePending, StateSent}, "state = 'pending', last_error = ?, next_attempt_ms = ?", safeReason(reason), ms(next))
}

// MarkConfirmed records central's confirmation and deletes the sealed
// personal payload in the same transaction. Confirming twice is not an
// error; a failed item may still be confirmed (central accepted it later).
func (l *Ledger) MarkConfirmed(ctx context.Context, key string) error {
	now := ms(l.clock.Now())
	return l.transition(ctx, key, []State{StatePending, StateSent, StateFailed, StateConfirmed},
		"state = 'confirmed', personal = NULL, last_error = '', done_ms = CASE WHEN state = 'confirmed' THEN done_ms ELSE ? END", now)
}

// MarkFailed records that central refused the item for good (reason is a
// short safe code). The sealed payload stays until the retention purge so
// a supervisor can act on it.
func (l *Ledger) MarkFailed(ctx context.Context, key, reason string) error {
	now := ms(l.clock.Now())
	return l.transition(ctx, key, []State{StatePending, StateSent}, "state = 'failed', last_error = ?, done_ms = ?", safeReason(reason), now)
}

// Pending lists the items not yet confirmed (pending, sent, failed),
// oldest first, without personal data: the "waiting to be forwarded"
// screen.
func (l *Ledger) Pending(ctx context.Context) ([]Item, error) {
	return l.listItems(ctx, "pending", false, "SELECT "+itemCols+" FROM outbox WHERE state != 'confirmed' ORDER BY id")
}

// Get returns the item with key, without personal data.
func (l *Ledger) Get(ctx context.Context, key string) (Item, error) {
	it, err := l.scanItem(l.db.Read().QueryRowContext(ctx, "SELECT "+itemCols+" FROM outbox WHERE idem_key = ?", key), false)
	if errors.Is(err, sql.ErrNoRows) {
		return it, errNoItem()
	}
	return it, store.Classify(err, l.db.Path())
}

// OutboxStats is the backlog for the status bar and the shift report.
type OutboxStats struct {
	Pending, Sent, Confirmed, Failed int
	OldestWaiting                    time.Time // created time of the oldest pending/sent item; zero if none
}

// Stats counts items by state.
func (l *Ledger) Stats(ctx context.Context) (OutboxStats, error) {
	var s OutboxStats
	var oldest sql.NullInt64
	err := l.db.Read().QueryRowContext(ctx, `SELECT
		coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'sent'), 0),
		coalesce(sum(state = 'confirmed'), 0), coalesce(sum(state = 'failed'), 0),
		min(CASE WHEN state IN ('pending', 'sent') THEN created_ms END)
		FROM outbox`).Scan(&s.Pending, &s.Sent, &s.Confirmed, &s.Failed, &oldest)
	if oldest.Valid {
		s.OldestWaiting = fromMS(oldest.Int64)
	}
	return s, store.Classify(err, l.db.Path())
}
