package upgrades

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"stationdesk/app"
	"stationdesk/offline/central"
	"stationdesk/offline/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// FileName is the pending store's file name in the data folder.
const FileName = "pending.db"

// Sealer encrypts the personal payload of a pending item (AES-GCM with
// associated data table|column|rowKey). *ledger.Keys implements it.
type Sealer interface {
	Seal(plaintext []byte, table, column, rowKey string) ([]byte, error)
	Open(sealed []byte, table, column, rowKey string) ([]byte, error)
}

// OutboxOptions configure OpenOutbox. Sealer and MACKey are required.
type OutboxOptions struct {
	Sealer Sealer
	// MACKey authenticates every item (integrity.go): the station's
	// pending key (ledger.Keys.PendingKey), at least 32 bytes. It must
	// not be stored in pending.db.
	MACKey []byte
	Clock  app.Clock
	Logger *slog.Logger
}

// Outbox is the durable pending store (synchronous=FULL): it implements
// app.UpgradeOutbox. A pending item is durable when SavePending returns;
// its documents are sealed at rest and erased when the item settles.
// Safe for concurrent use.
type Outbox struct {
	db    *store.DB
	seal  Sealer
	mac   []byte
	clock app.Clock
	log   *slog.Logger
}

var _ app.UpgradeOutbox = (*Outbox)(nil)

// OpenOutbox opens (creating) the pending store at path.
func OpenOutbox(ctx context.Context, path string, o OutboxOptions) (*Outbox, error) {
	if o.Sealer == nil {
		return nil, errors.New("forward: Sealer is required")
	}
	if len(o.MACKey) < 32 {
		return nil, errors.New("forward: MACKey of at least 32 bytes is required")
	}
	if o.Clock == nil {
		o.Clock = app.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, path, store.Options{Durability: store.DurabilityFull, Migrations: sub, AfterMigration: adopt(o.MACKey),
		Clock: o.Clock, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return &Outbox{db: db, seal: o.Sealer, mac: o.MACKey, clock: o.Clock, log: o.Logger}, nil
}

// Close closes the file.
func (o *Outbox) Close() error { return o.db.Close() }

// payload is the sealed part of an item: the request in the central wire
// format (documents re-validated on load).
type payload struct {
	Bind   *central.WireBindRequest   `json:"bind,omitempty"`
	Unbind *central.WireUnbindRequest `json:"unbind,omitempty"`
}

// SavePending implements app.UpgradeOutbox. A key that exists keeps its
// first item (a double submit queues once).
func (o *Outbox) SavePending(ctx context.Context, p app.PendingUpgrade) error {
	var pl payload
	switch p.Kind {
	case app.PendingBind:
		b := central.WireBindRequest{CardNumber: p.Bind.CardNumber, Form: string(p.Bind.Form), Holder: central.DocToWire(p.Bind.Holder), Operator: p.Bind.Operator}
		if p.Bind.Proxy() {
			b.Proxy = &central.WireProxy{Helper: central.DocToWire(p.Bind.Helper), Code: p.Bind.Code}
		}
		pl.Bind = &b
	case app.PendingUnbind:
		pl.Unbind = &central.WireUnbindRequest{CardNumber: p.Unbind.CardNumber, Holder: central.DocToWire(p.Unbind.Holder), Operator: p.Unbind.Operator}
	default:
		return fmt.Errorf("forward: unknown pending kind %q", p.Kind)
	}
	plain, err := json.Marshal(pl)
	if err != nil {
		return err
	}
	sealed, err := o.seal.Seal(plain, "pending", "payload", p.Key)
	if err != nil {
		return err
	}
	created := p.Created
	if created.IsZero() {
		created = o.clock.Now()
	}
	return o.db.WriteTx(ctx, func(tx *sql.Tx) error {
		id, err := nextID(ctx, tx, o.mac)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO pending(id, key, kind, operator, subject, payload, created, updated, next_try) VALUES (?,?,?,?,?,?,?,?,?)
			ON CONFLICT(key) DO NOTHING`, id, p.Key, string(p.Kind), p.Operator, p.Subject, sealed, created.UnixMilli(), created.UnixMilli(), created.UnixMilli())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // queued before under this key
		}
		if err := setHead(ctx, tx, o.mac, id); err != nil {
			return err
		}
		return remac(ctx, tx, o.mac, p.Key)
	})
}

// DuePending implements app.UpgradeOutbox: waiting items with next_try ≤
// now, oldest first. An item whose payload cannot be opened (wrong key,
// damage) is settled as refused "payload_unreadable" and skipped.
func (o *Outbox) DuePending(ctx context.Context, now time.Time, limit int) ([]app.PendingUpgrade, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := o.db.Read().QueryContext(ctx, `SELECT key, kind, operator, subject, payload, attempts, created FROM pending
		WHERE state = 'pending' AND next_try <= ? ORDER BY id LIMIT ?`, now.UnixMilli(), limit)
	if err != nil {
		return nil, store.Classify(err, o.db.Path())
	}
	type raw struct {
		p      app.PendingUpgrade
		sealed []byte
	}
	var list []raw
	for rows.Next() {
		var r raw
		var kind string
		var created int64
		if err := rows.Scan(&r.p.Key, &kind, &r.p.Operator, &r.p.Subject, &r.sealed, &r.p.Attempts, &created); err != nil {
			rows.Close()
			return nil, err
		}
		r.p.Kind = app.PendingKind(kind)
		r.p.Created = time.UnixMilli(created)
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]app.PendingUpgrade, 0, len(list))
	for _, r := range list {
		p, err := o.decode(r.p, r.sealed)
		if err != nil {
			o.log.Error("pending item unreadable; refused", "key", r.p.Key, "err", err)
			if err := o.SettlePending(ctx, r.p.Key, app.PendingRefused, "payload_unreadable"); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

func (o *Outbox) decode(p app.PendingUpgrade, sealed []byte) (app.PendingUpgrade, error) {
	plain, err := o.seal.Open(sealed, "pending", "payload", p.Key)
	if err != nil {
		return p, err
	}
	var pl payload
	if err := json.Unmarshal(plain, &pl); err != nil {
		return p, errors.New("payload json")
	}
	now := o.clock.Now()
	switch {
	case p.Kind == app.PendingBind && pl.Bind != nil:
		h, err := central.DocFromWire(pl.Bind.Holder, now)
		if err != nil {
			return p, err
		}
		p.Bind = app.BindRequest{CardNumber: pl.Bind.CardNumber, Form: app.CardForm(pl.Bind.Form), Holder: h, Operator: pl.Bind.Operator}
		if pl.Bind.Proxy != nil {
			if p.Bind.Helper, err = central.DocFromWire(pl.Bind.Proxy.Helper, now); err != nil {
				return p, err
			}
			p.Bind.Code = pl.Bind.Proxy.Code
		}
	case p.Kind == app.PendingUnbind && pl.Unbind != nil:
		h, err := central.DocFromWire(pl.Unbind.Holder, now)
		if err != nil {
			return p, err
		}
		p.Unbind = app.UnbindRequest{CardNumber: pl.Unbind.CardNumber, Holder: h, Operator: pl.Unbind.Operator}
	default:
		return p, errors.New("payload kind")
	}
	return p, nil
}

// SettlePending implements app.UpgradeOutbox: final state, reason, and the
// personal payload erased. Settling a settled item changes nothing.
func (o *Outbox) SettlePending(ctx context.Context, key string, state app.PendingState, reason string) error {
	if state != app.PendingConfirmed && state != app.PendingRefused {
		return fmt.Errorf("forward: settle to %q", state)
	}
	return o.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE pending SET state = ?, reason = ?, payload = NULL, updated = ?, attempts = attempts + 1
			WHERE key = ? AND state = 'pending'`, string(state), reason, o.clock.Now().UnixMilli(), key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return remac(ctx, tx, o.mac, key)
	})
}

// RetryPending implements app.UpgradeOutbox.
func (o *Outbox) RetryPending(ctx context.Context, key, reason string, next time.Time) error {
	return o.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE pending SET reason = ?, attempts = attempts + 1, updated = ?, next_try = ? WHERE key = ? AND state = 'pending'`,
			reason, o.clock.Now().UnixMilli(), next.UnixMilli(), key)
		return err
	})
}

// ListPending implements app.UpgradeOutbox: newest first, masked.
func (o *Outbox) ListPending(ctx context.Context, limit int) ([]app.PendingView, error) {
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	rows, err := o.db.Read().QueryContext(ctx, `SELECT key, kind, subject, state, reason, attempts, created, updated, next_try FROM pending ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, store.Classify(err, o.db.Path())
	}
	defer rows.Close()
	var out []app.PendingView
	for rows.Next() {
		var v app.PendingView
		var kind, state string
		var c, u, n int64
		if err := rows.Scan(&v.Key, &kind, &v.Subject, &state, &v.Reason, &v.Attempts, &c, &u, &n); err != nil {
			return nil, err
		}
		v.Kind, v.State = app.PendingKind(kind), app.PendingState(state)
		v.Created, v.Updated = time.UnixMilli(c), time.UnixMilli(u)
		if v.State == app.PendingWaiting {
			v.NextTry = time.UnixMilli(n)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Purge deletes settled items last updated before cutoff (retention: the
// audit log keeps the record; the list keeps recent ones), leaving a
// MACed tombstone of each (id, key, final state) so the deletion is not
// mistaken for tampering. It returns the number deleted.
func (o *Outbox) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	now := o.clock.Now().UnixMilli()
	err := o.db.WriteTx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT id, key, state FROM pending WHERE state != 'pending' AND updated < ? ORDER BY id`, cutoff.UnixMilli())
		if err != nil {
			return err
		}
		type old struct {
			id         int64
			key, state string
		}
		var list []old
		for rows.Next() {
			var r old
			if err := rows.Scan(&r.id, &r.key, &r.state); err != nil {
				rows.Close()
				return err
			}
			list = append(list, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range list {
			if _, err := tx.ExecContext(ctx, `INSERT INTO pending_gone(id, key, state, purged, mac) VALUES (?,?,?,?,?)`,
				r.id, r.key, r.state, now, goneMAC(o.mac, r.id, r.key, r.state, now)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM pending WHERE id = ?`, r.id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
