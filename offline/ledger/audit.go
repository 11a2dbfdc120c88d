package ledger

import (
	"bytes"
	"context"
	"crypto/hmac"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"stationdesk/app"
	"stationdesk/offline/store"
)

// VerifyResult is the outcome of Verify.
type VerifyResult = app.AuditVerifyResult

var zeroHash = make([]byte, 32)

// canonicalEntry is the fixed encoding the chain hashes: a version tag,
// seq and time as 8-byte big-endian integers, then each text field
// length-prefixed (4 bytes big-endian), so no two different entries encode
// alike.
func canonicalEntry(e app.AuditEntry) []byte {
	var b bytes.Buffer
	b.WriteString("stationdesk-audit-v1")
	binary.Write(&b, binary.BigEndian, e.Seq)
	binary.Write(&b, binary.BigEndian, e.Time.UnixMilli())
	for _, s := range []string{e.Operator, e.Terminal, string(e.Action), e.Subject, string(e.Outcome), e.Detail} {
		binary.Write(&b, binary.BigEndian, uint32(len(s)))
		b.WriteString(s)
	}
	return b.Bytes()
}

// entryHash chains e to prev. An entry that names records (schema 4) also
// covers their list (recordsDigest); one that names none hashes as before,
// so older entries still verify.
func entryHash(k *Keys, prev []byte, e app.AuditEntry, recs []recRef) []byte {
	if len(recs) == 0 {
		return k.auditMAC(prev, canonicalEntry(e))
	}
	return k.auditMAC(prev, canonicalEntry(e), recordsDigest(recs))
}

func pointMAC(k *Keys, kind string, seq int64, hash []byte) []byte {
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], uint64(seq))
	return k.auditMAC([]byte(kind), s[:], hash)
}

// Append validates e (app.ValidateAuditEntry), fills Time (ledger clock,
// millisecond precision) and Terminal when empty, and appends it to the
// chain in its own durable transaction. Errors: CodeInvalid from
// validation, CodeUnavailable "disk_full" and other store errors.
func (l *Ledger) Append(ctx context.Context, e app.AuditEntry) error {
	return l.write(ctx, func(tx *sql.Tx) error {
		_, err := l.AppendTx(ctx, tx, e)
		return err
	})
}

// AppendTx appends e inside the caller's ledger transaction (from WriteTx),
// so that an action and its audit entry commit together or not at all.
// It returns the entry as stored (Seq, Time, Terminal filled).
func (l *Ledger) AppendTx(ctx context.Context, tx *sql.Tx, e app.AuditEntry) (app.AuditEntry, error) {
	if e.Terminal == "" {
		e.Terminal = l.opts.Terminal
	}
	if e.Time.IsZero() {
		e.Time = l.clock.Now()
	}
	e.Time = fromMS(e.Time.UnixMilli())
	if err := app.ValidateAuditEntry(e); err != nil {
		return e, err
	}
	prevSeq, prev := int64(0), zeroHash
	err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&prevSeq, &prev)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_anchor WHERE id = 1").Scan(&prevSeq, &prev)
		if errors.Is(err, sql.ErrNoRows) {
			prevSeq, prev, err = 0, zeroHash, nil
		}
	}
	if err != nil {
		return e, fmt.Errorf("ledger: audit head: %w", err)
	}
	e.Seq = prevSeq + 1
	recs, err := takeDirty(ctx, tx)
	if err != nil {
		return e, fmt.Errorf("ledger: audit records: %w", err)
	}
	h := entryHash(l.keys, prev, e, recs)
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log(seq, at_ms, operator, terminal, action, subject, outcome, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, ms(e.Time), e.Operator, e.Terminal, string(e.Action), e.Subject, string(e.Outcome), e.Detail, prev, h); err != nil {
		return e, fmt.Errorf("ledger: audit append: %w", err)
	}
	for _, r := range recs {
		if _, err := tx.ExecContext(ctx, "INSERT INTO audit_records(seq, tbl, rec_key, hash) VALUES (?, ?, ?, ?)", e.Seq, r.Table, r.Key, r.Hash); err != nil {
			return e, fmt.Errorf("ledger: audit records: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_head(id, seq, hash, mac) VALUES (1, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac`,
		e.Seq, h, pointMAC(l.keys, "head", e.Seq, h)); err != nil {
		return e, fmt.Errorf("ledger: audit head: %w", err)
	}
	return e, nil
}

// Verify walks the whole chain on a read snapshot and reports the first
// entry that does not hold: "hash_mismatch" (the entry was edited),
// "prev_mismatch" (its link to the previous entry was edited), "gap"
// (entries before it were removed), "anchor_mismatch" (the purge anchor
// was forged), "head_mismatch"/"truncated"/"head_missing" (entries were
// cut off the end or the head was edited). A broken chain is a result,
// not an error; errors mean the check could not run.
func (l *Ledger) Verify(ctx context.Context) (VerifyResult, error) {
	tx, err := l.db.Read().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return VerifyResult{}, store.Classify(err, l.db.Path())
	}
	defer tx.Rollback()
	return verifyTx(ctx, tx, l.keys, l.db.Path(), chainPoint{})
}

// chainPoint is a verified position in the chain (a checkpoint): entries
// up to Seq are taken as checked, and entry Seq's hash is Hash.
type chainPoint struct {
	Seq  int64
	Hash []byte
}

// verifyTx is Verify on a read transaction of any connection to a ledger
// (the desk's own pool or a read-only snapshot).
// With from.Seq > 0 it checks incrementally: the entries after from (whose
// chain must start at from.Hash) and the records they name; records only
// named before from are not re-read, and no record is checked for being
// unnamed.
func verifyTx(ctx context.Context, tx *sql.Tx, keys *Keys, path string, from chainPoint) (VerifyResult, error) {
	res := VerifyResult{OK: true}
	broken := func(seq int64, reason string) { res.Broken(app.AuditProblem{Seq: seq, Reason: reason}) }
	bySeq, withRecords, err := loadRecords(ctx, tx, from.Seq)
	if err != nil {
		return res, store.Classify(fmt.Errorf("ledger: audit records: %w", err), path)
	}
	entrySeqs := map[int64]bool{}
	prevSeq, prev := int64(0), zeroHash
	var aSeq int64
	var aHash, aMAC []byte
	switch err := tx.QueryRowContext(ctx, "SELECT seq, hash, mac FROM audit_anchor WHERE id = 1").Scan(&aSeq, &aHash, &aMAC); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return res, store.Classify(fmt.Errorf("ledger: audit anchor: %w", err), path)
	default:
		prevSeq, prev = aSeq, aHash
		if !hmacEqual(aMAC, pointMAC(keys, "anchor", aSeq, aHash)) {
			broken(aSeq+1, "anchor_mismatch")
		}
	}
	if from.Seq > prevSeq {
		prevSeq, prev = from.Seq, from.Hash
	}

	rows, err := tx.QueryContext(ctx, `SELECT seq, at_ms, operator, terminal, action, subject, outcome, detail, prev_hash, hash
		FROM audit_log WHERE seq > ? ORDER BY seq`, prevSeq)
	if err != nil {
		return res, store.Classify(fmt.Errorf("ledger: audit verify: %w", err), path)
	}
	defer rows.Close()
	for rows.Next() {
		e, ph, h, err := scanChained(rows)
		if err != nil {
			return res, store.Classify(fmt.Errorf("ledger: audit verify: %w", err), path)
		}
		res.Entries++
		switch {
		case e.Seq != prevSeq+1:
			broken(e.Seq, "gap")
		case !bytes.Equal(ph, prev):
			broken(e.Seq, "prev_mismatch")
		case !hmacEqual(h, entryHash(keys, ph, e, bySeq[e.Seq])):
			broken(e.Seq, "hash_mismatch")
		}
		entrySeqs[e.Seq] = true
		if e.Action == ActChainBroken {
			// The desk found the chain broken at an earlier start and
			// carried on: what was lost then stays reported.
			broken(e.Seq, "break_recorded")
		}
		prevSeq, prev = e.Seq, h
	}
	if err := rows.Err(); err != nil {
		return res, store.Classify(fmt.Errorf("ledger: audit verify: %w", err), path)
	}
	res.Head = prevSeq

	var hSeq int64
	var hHash, hMAC []byte
	switch err := tx.QueryRowContext(ctx, "SELECT seq, hash, mac FROM audit_head WHERE id = 1").Scan(&hSeq, &hHash, &hMAC); {
	case errors.Is(err, sql.ErrNoRows):
		if prevSeq > 0 {
			broken(prevSeq, "head_missing")
		}
	case err != nil:
		return res, store.Classify(fmt.Errorf("ledger: audit head: %w", err), path)
	case !hmacEqual(hMAC, pointMAC(keys, "head", hSeq, hHash)):
		broken(max(prevSeq, 1), "head_mismatch")
	case hSeq > prevSeq:
		broken(prevSeq+1, "truncated")
	case hSeq < prevSeq || !bytes.Equal(hHash, prev):
		broken(hSeq+1, "head_mismatch")
	}
	if !withRecords {
		return res, nil
	}
	for seq := range bySeq {
		if !entrySeqs[seq] && seq > from.Seq {
			broken(seq, "records_orphaned") // records of an entry that is not in the log
		}
	}
	return res, verifyRecords(ctx, tx, bySeq, &res, path, from.Seq > 0)
}

// hmacEqual compares MACs in constant time (crypto/hmac docs).
func hmacEqual(a, b []byte) bool { return hmac.Equal(a, b) }

type scanner interface{ Scan(...any) error }

func scanChained(r scanner) (e app.AuditEntry, prev, hash []byte, err error) {
	var at int64
	var action, outcome string
	err = r.Scan(&e.Seq, &at, &e.Operator, &e.Terminal, &action, &e.Subject, &outcome, &e.Detail, &prev, &hash)
	e.Time, e.Action, e.Outcome = fromMS(at), app.AuditAction(action), app.AuditOutcome(outcome)
	return e, prev, hash, err
}

// List returns entries matching f, newest first (app.AuditFilter). Entries
// hold tokens and masked values only, so they may be shown to a
// supervisor as they are.
func (l *Ledger) List(ctx context.Context, f app.AuditFilter) ([]app.AuditEntry, error) {
	var where []string
	var args []any
	if !f.Since.IsZero() {
		where, args = append(where, "at_ms >= ?"), append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at_ms < ?"), append(args, ms(f.Until))
	}
	if f.Operator != "" {
		where, args = append(where, "operator = ?"), append(args, f.Operator)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, string(f.Action))
	}
	if f.Outcome != "" {
		where, args = append(where, "outcome = ?"), append(args, string(f.Outcome))
	}
	if f.BeforeSeq > 0 {
		where, args = append(where, "seq < ?"), append(args, f.BeforeSeq)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := "SELECT seq, at_ms, operator, terminal, action, subject, outcome, detail, prev_hash, hash FROM audit_log"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq DESC LIMIT ?"
	rows, err := l.db.Read().QueryContext(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, store.Classify(fmt.Errorf("ledger: audit list: %w", err), l.db.Path())
	}
	defer rows.Close()
	var out []app.AuditEntry
	for rows.Next() {
		e, _, _, err := scanChained(rows)
		if err != nil {
			return nil, store.Classify(fmt.Errorf("ledger: audit list: %w", err), l.db.Path())
		}
		out = append(out, e)
	}
	return out, store.Classify(rows.Err(), l.db.Path())
}
