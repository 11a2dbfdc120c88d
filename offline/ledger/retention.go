package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"stationdesk/app"
)

// Retention periods (see the package comment's table).
const (
	AuditYears          = 3
	ConfirmedOutboxKeep = 30 * 24 * time.Hour
	FailedPersonalKeep  = 30 * 24 * time.Hour
	FailedOutboxKeep    = 365 * 24 * time.Hour
)

// PurgeReport says what Purge removed.
type PurgeReport struct {
	AuditEntries        int   // audit entries older than AuditYears
	AuditAnchor         int64 // new chain anchor seq (0 if unchanged)
	ConfirmedDeleted    int   // confirmed outbox rows older than ConfirmedOutboxKeep
	FailedPayloadsWiped int   // sealed payloads of failed items older than FailedPersonalKeep
	FailedDeleted       int   // failed rows older than FailedOutboxKeep

	// The ticket window's tables (ticketing.go).
	HealthCacheDeleted  int // station health statuses older than HealthCacheKeep
	ManualChecksDeleted int // manual checks older than ManualCheckKeep
	SalesDeleted        int // completed or voided sales older than SaleRecordKeep
	ShiftsDeleted       int // closed shifts no sale or check refers to any more
}

// Purge applies the retention table at now in one transaction and, if it
// removed anything, audits it (retention.purge, operator "system"). Audit
// entries are purged as a prefix of the chain: the newest purged entry
// becomes the MACed anchor Verify starts from, so the remaining chain
// still verifies.
func (l *Ledger) Purge(ctx context.Context, now time.Time) (PurgeReport, error) {
	var rep PurgeReport
	err := l.write(ctx, func(tx *sql.Tx) error {
		rep = PurgeReport{}
		cutoff := ms(now.AddDate(-AuditYears, 0, 0))
		// The longest prefix of entries older than the cutoff.
		var firstYoung sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT min(seq) FROM audit_log WHERE at_ms >= ?", cutoff).Scan(&firstYoung); err != nil {
			return err
		}
		q := "SELECT seq, hash FROM audit_log WHERE at_ms < ? ORDER BY seq DESC LIMIT 1"
		args := []any{cutoff}
		if firstYoung.Valid {
			q = "SELECT seq, hash FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT 1"
			args = []any{firstYoung.Int64}
		}
		var last int64
		var hash []byte
		err := tx.QueryRowContext(ctx, q, args...).Scan(&last, &hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_anchor(id, seq, hash, mac) VALUES (1, ?, ?, ?)
				ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac`,
				last, hash, pointMAC(l.keys, "anchor", last, hash)); err != nil {
				return err
			}
			// Records whose newest entry is purged keep their content
			// hash: this purge's own entry carries it forward.
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_dirty(tbl, rec_key, carry)
				SELECT r.tbl, r.rec_key, r.hash FROM audit_records r
				WHERE r.seq <= ? AND length(r.hash) > 0
				AND r.seq = (SELECT max(x.seq) FROM audit_records x WHERE x.tbl = r.tbl AND x.rec_key = r.rec_key)
				ON CONFLICT DO NOTHING`, last); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM audit_records WHERE seq <= ?", last); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, "DELETE FROM audit_log WHERE seq <= ?", last)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			rep.AuditEntries, rep.AuditAnchor = int(n), last
		}
		for _, step := range []struct {
			n    *int
			stmt string
			arg  int64
		}{
			{&rep.ConfirmedDeleted, "DELETE FROM outbox WHERE state = 'confirmed' AND done_ms < ?", ms(now.Add(-ConfirmedOutboxKeep))},
			{&rep.FailedPayloadsWiped, "UPDATE outbox SET personal = NULL WHERE state = 'failed' AND personal IS NOT NULL AND done_ms < ?", ms(now.Add(-FailedPersonalKeep))},
			{&rep.FailedDeleted, "DELETE FROM outbox WHERE state = 'failed' AND done_ms < ?", ms(now.Add(-FailedOutboxKeep))},
		} {
			res, err := tx.ExecContext(ctx, step.stmt, step.arg)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			*step.n = int(n)
		}
		if err := purgeTicketing(ctx, tx, now, &rep); err != nil {
			return err
		}
		if rep == (PurgeReport{}) {
			return nil
		}
		_, err = l.AppendTx(ctx, tx, app.AuditEntry{Time: now, Operator: "system", Action: app.ActRetentionPurge, Outcome: app.OutcomeSuccess,
			Detail: fmt.Sprintf("audit=%d (anchor %d) outbox_confirmed=%d failed_payloads=%d outbox_failed=%d health_cache=%d manual_checks=%d sales=%d shifts=%d",
				rep.AuditEntries, rep.AuditAnchor, rep.ConfirmedDeleted, rep.FailedPayloadsWiped, rep.FailedDeleted,
				rep.HealthCacheDeleted, rep.ManualChecksDeleted, rep.SalesDeleted, rep.ShiftsDeleted)})
		return err
	})
	return rep, err
}
