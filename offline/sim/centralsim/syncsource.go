package centralsim

import (
	"context"
	"database/sql"
	"net/http"
	"time"

	"stationdesk/app"
	"stationdesk/offline/sim/syncpub"
)

// SyncSource returns the simulator's bindings, persons' health and change
// feed as a syncpub.Source (person key = the persons table's row id).
func (s *Server) SyncSource() syncpub.Source { return syncSource{s} }

// EnableSync builds a sync publisher on SyncSource with keys and mounts it
// under /v1/sync/ (behind the station token and the fault switches).
// Demo mode uses syncpub.DemoKeys().
func (s *Server) EnableSync(ctx context.Context, keys syncpub.Keys) (*syncpub.Publisher, error) {
	p, err := syncpub.New(ctx, syncpub.Config{Source: s.SyncSource(), Keys: keys, Clock: s.clock, Logger: s.log, Policy: s.policy})
	if err != nil {
		return nil, err
	}
	s.Mount("/v1/sync/", http.StripPrefix("/v1/sync", p.Handler()))
	return p, nil
}

// Mounted reports whether a handler is mounted at prefix.
func (s *Server) Mounted(prefix string) bool {
	s.smu.Lock()
	defer s.smu.Unlock()
	for _, m := range s.mounts {
		if m.prefix == prefix {
			return true
		}
	}
	return false
}

type syncSource struct{ s *Server }

// Snapshot reads bindings and persons in one read transaction (a WAL
// snapshot), consistent as of the newest change seq.
func (src syncSource) Snapshot(ctx context.Context, card func(syncpub.CardBinding) error, person func(syncpub.PersonHealth) error) (uint64, error) {
	tx, err := src.s.db.Read().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var seq sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(seq) FROM changes`).Scan(&seq); err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT card_number, person_id FROM bindings ORDER BY card_number`)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var b syncpub.CardBinding
		var pid int64
		if err := rows.Scan(&b.CardNumber, &pid); err != nil {
			rows.Close()
			return 0, err
		}
		b.Person = uint64(pid)
		if err := card(b); err != nil {
			rows.Close()
			return 0, err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	prows, err := tx.QueryContext(ctx, `SELECT id, color, last_negative FROM persons ORDER BY id`)
	if err != nil {
		return 0, err
	}
	defer prows.Close()
	for prows.Next() {
		var h syncpub.PersonHealth
		var pid int64
		var color string
		var neg sql.NullInt64
		if err := prows.Scan(&pid, &color, &neg); err != nil {
			return 0, err
		}
		h.Person, h.Color = uint64(pid), app.HealthColor(color)
		if neg.Valid {
			h.LastNegative = time.UnixMilli(neg.Int64).UTC()
		}
		if err := person(h); err != nil {
			return 0, err
		}
	}
	return uint64(seq.Int64), prows.Err()
}

// Changes reads the change feed after a seq.
func (src syncSource) Changes(ctx context.Context, after uint64, fn func(syncpub.Change) error) (uint64, error) {
	rows, err := src.s.db.Read().QueryContext(ctx, `SELECT seq, at, card_number, person_id, bound, color, last_negative FROM changes WHERE seq > ? ORDER BY seq`, int64(after))
	if err != nil {
		return after, err
	}
	defer rows.Close()
	head := after
	for rows.Next() {
		var (
			seq, at, pid int64
			card, color  sql.NullString
			bound        bool
			neg          sql.NullInt64
		)
		if err := rows.Scan(&seq, &at, &card, &pid, &bound, &color, &neg); err != nil {
			return head, err
		}
		c := syncpub.Change{Seq: uint64(seq), At: time.UnixMilli(at).UTC()}
		if card.Valid {
			c.Card = &syncpub.CardBinding{CardNumber: card.String, Person: uint64(pid), Unbound: !bound}
		} else {
			h := &syncpub.PersonHealth{Person: uint64(pid), Color: app.HealthColor(color.String)}
			if neg.Valid {
				h.LastNegative = time.UnixMilli(neg.Int64).UTC()
			}
			c.Person = h
		}
		if err := fn(c); err != nil {
			return head, err
		}
		head = uint64(seq)
	}
	return head, rows.Err()
}
