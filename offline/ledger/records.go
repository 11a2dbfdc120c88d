package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"stationdesk/app"
	"stationdesk/offline/store"
)

// Records in the chain (schema 4). Triggers note every record a
// transaction writes in audit_dirty; the transaction's audit entry takes
// them (takeDirty), stores each record's content hash in audit_records
// and covers the list in its chain hash. A write that audits nothing gets
// an entry of its own ("ledger.record", operator "system") so no record
// change is outside the chain. Verify then checks that every record's
// current content is the one its newest entry names, that no named record
// is missing, and that no record exists that no entry names.

// recTable is a covered table: its key expression, how to find one row by
// key, and the columns its content hash covers (in this order).
type recTable struct {
	name, key, where, cols string
}

var recTables = []recTable{
	{"sales", "idem_key", "idem_key = ?", "idem_key, kind, state, operator, terminal, shift_id, buyer_token, buyer_masked, dest_code, dest_name, " +
		"fare_fen, payment, assisted, override_by, token_serial, valid_until_ms, created_ms, updated_ms, issued_ms, last_error"},
	{"manual_checks", "idem_key", "idem_key = ?", "idem_key, operator, terminal, shift_id, subject_token, subject_masked, decision, reason, nat_window, shown, checked_ms"},
	{"shifts", "CAST(id AS TEXT)", "id = CAST(? AS INTEGER)", "id, terminal, operator, opened_ms, closed_ms, closed_by"},
	{"operators", "id", "id = ?", "id, display_name, role, disabled, kdf, kdf_time, kdf_memory_kib, kdf_threads, pin_salt, pin_hash, created_ms, pin_changed_ms"},
	{"outbox", "idem_key", "idem_key = ?", "kind, idem_key, body, created_ms"},
}

func recTableByName(name string) (recTable, bool) {
	for _, t := range recTables {
		if t.name == name {
			return t, true
		}
	}
	return recTable{}, false
}

// recRef is one record named by an audit entry; Hash is empty when the
// entry deleted it.
type recRef struct {
	Table, Key string
	Hash       []byte
}

// recordHash is SHA-256 over a version tag, the table, the key and each
// column value tagged by type and length-prefixed.
func recordHash(table, key string, vals []any) []byte {
	h := sha256.New()
	put := func(tag byte, b []byte) {
		var l [5]byte
		l[0] = tag
		binary.BigEndian.PutUint32(l[1:], uint32(len(b)))
		h.Write(l[:])
		h.Write(b)
	}
	put('v', []byte("stationdesk-record-v1"))
	put('t', []byte(table))
	put('k', []byte(key))
	for _, v := range vals {
		var n [8]byte
		switch x := v.(type) {
		case nil:
			put('n', nil)
		case int64:
			binary.BigEndian.PutUint64(n[:], uint64(x))
			put('i', n[:])
		case float64:
			binary.BigEndian.PutUint64(n[:], math.Float64bits(x))
			put('f', n[:])
		case string:
			put('s', []byte(x))
		case []byte:
			put('b', x)
		default:
			put('s', fmt.Appendf(nil, "%v", x))
		}
	}
	return h.Sum(nil)
}

func scanValues(r interface{ Scan(...any) error }, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, r.Scan(ptrs...)
}

func colCount(cols string) int {
	n := 1
	for _, c := range cols {
		if c == ',' {
			n++
		}
	}
	return n
}

// currentHash reads the record and hashes it; nil when it does not exist.
func currentHash(ctx context.Context, tx *sql.Tx, t recTable, key string) ([]byte, error) {
	vals, err := scanValues(tx.QueryRowContext(ctx, "SELECT "+t.cols+" FROM "+t.name+" WHERE "+t.where, key), colCount(t.cols))
	if err == sql.ErrNoRows {
		return []byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	return recordHash(t.name, key, vals), nil
}

// takeDirty returns the records the transaction wrote (sorted by table
// and key) with their content hashes, and empties audit_dirty.
func takeDirty(ctx context.Context, tx *sql.Tx) ([]recRef, error) {
	rows, err := tx.QueryContext(ctx, "SELECT tbl, rec_key, carry FROM audit_dirty ORDER BY tbl, rec_key")
	if err != nil {
		return nil, err
	}
	var refs []recRef
	for rows.Next() {
		var r recRef
		var carry []byte
		if err := rows.Scan(&r.Table, &r.Key, &carry); err != nil {
			rows.Close()
			return nil, err
		}
		r.Hash = carry
		refs = append(refs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(refs) == 0 {
		return nil, err
	}
	for i := range refs {
		if refs[i].Hash != nil {
			continue
		}
		t, ok := recTableByName(refs[i].Table)
		if !ok {
			return nil, fmt.Errorf("ledger: audit_dirty names unknown table %q", refs[i].Table)
		}
		if refs[i].Hash, err = currentHash(ctx, tx, t, refs[i].Key); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM audit_dirty"); err != nil {
		return nil, err
	}
	return refs, nil
}

// recordsDigest is what an entry's chain hash covers of its records.
func recordsDigest(refs []recRef) []byte {
	h := sha256.New()
	for _, r := range refs {
		for _, p := range [][]byte{[]byte(r.Table), []byte(r.Key), r.Hash} {
			var l [4]byte
			binary.BigEndian.PutUint32(l[:], uint32(len(p)))
			h.Write(l[:])
			h.Write(p)
		}
	}
	return h.Sum(nil)
}

// write is the ledger's write transaction: it starts with an empty
// audit_dirty (rows left there by a change made outside the program are
// not taken into the chain; Verify reports such a change), runs fn, and
// gives records fn wrote but did not audit an entry of their own.
func (l *Ledger) write(ctx context.Context, fn func(*sql.Tx) error) error {
	err := l.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM audit_dirty"); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM audit_dirty").Scan(&n); err != nil || n == 0 {
			return err
		}
		_, err := l.AppendTx(ctx, tx, app.AuditEntry{Operator: "system", Action: ActLedgerRecord, Outcome: app.OutcomeSuccess,
			Detail: fmt.Sprintf("%d records written without their own audit entry", n)})
		return err
	})
	if err == nil {
		l.afterCommit(ctx)
	}
	return err
}

// Ledger actions of the audit log.
const (
	// ActLedgerRecord covers records a transaction wrote without auditing.
	ActLedgerRecord app.AuditAction = "ledger.record"
	// ActLedgerAdopt takes the records that existed before schema 4 into
	// the chain.
	ActLedgerAdopt app.AuditAction = "ledger.adopt"
)

// afterMigration runs inside each migration's transaction: schema 4 adopts
// the existing records in one entry.
func (l *Ledger) afterMigration(ctx context.Context, tx *sql.Tx, version int) error {
	if version != 4 {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM audit_dirty").Scan(&n); err != nil || n == 0 {
		return err
	}
	_, err := l.AppendTx(ctx, tx, app.AuditEntry{Operator: "system", Action: ActLedgerAdopt, Outcome: app.OutcomeSuccess,
		Detail: fmt.Sprintf("%d existing records taken into the audit chain", n)})
	return err
}

type recLatest struct {
	seq  int64
	hash []byte
}

// loadRecords reads audit_records by seq; ok is false on a ledger older
// than schema 4.
func loadRecords(ctx context.Context, tx *sql.Tx, after int64) (bySeq map[int64][]recRef, ok bool, err error) {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_records'").Scan(&n); err != nil || n == 0 {
		return nil, false, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT seq, tbl, rec_key, hash FROM audit_records WHERE seq > ? ORDER BY seq, tbl, rec_key", after)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	bySeq = map[int64][]recRef{}
	for rows.Next() {
		var seq int64
		var r recRef
		if err := rows.Scan(&seq, &r.Table, &r.Key, &r.Hash); err != nil {
			return nil, false, err
		}
		bySeq[seq] = append(bySeq[seq], r)
	}
	return bySeq, true, rows.Err()
}

// verifyRecords checks the covered tables against the newest entry naming
// each record: "record_changed" (content differs), "record_deleted" (named,
// gone), "record_unaudited" (exists, never named; seq 0), "record_restored"
// (its newest entry deleted it, it is back).
func verifyRecords(ctx context.Context, tx *sql.Tx, bySeq map[int64][]recRef, res *VerifyResult, path string, partial bool) error {
	latest := map[string]map[string]recLatest{}
	seqs := make([]int64, 0, len(bySeq))
	for s := range bySeq {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, s := range seqs {
		for _, r := range bySeq[s] {
			if latest[r.Table] == nil {
				latest[r.Table] = map[string]recLatest{}
			}
			latest[r.Table][r.Key] = recLatest{s, r.Hash}
		}
	}
	if partial {
		return verifyNamed(ctx, tx, latest, res, path)
	}
	for _, t := range recTables {
		rows, err := tx.QueryContext(ctx, "SELECT "+t.key+", "+t.cols+" FROM "+t.name+" ORDER BY 1")
		if err != nil {
			return store.Classify(fmt.Errorf("ledger: verify %s: %w", t.name, err), path)
		}
		seen := map[string]bool{}
		for rows.Next() {
			vals, err := scanValues(rows, 1+colCount(t.cols))
			if err != nil {
				rows.Close()
				return store.Classify(fmt.Errorf("ledger: verify %s: %w", t.name, err), path)
			}
			key := fmt.Sprint(vals[0])
			if b, ok := vals[0].([]byte); ok {
				key = string(b)
			}
			seen[key] = true
			res.Records++
			ref, named := latest[t.name][key]
			switch {
			case !named:
				res.Broken(app.AuditProblem{Reason: "record_unaudited", Table: t.name, Record: key})
			case len(ref.hash) == 0:
				res.Broken(app.AuditProblem{Seq: ref.seq, Reason: "record_restored", Table: t.name, Record: key})
			case !hmacEqual(ref.hash, recordHash(t.name, key, vals[1:])):
				res.Broken(app.AuditProblem{Seq: ref.seq, Reason: "record_changed", Table: t.name, Record: key})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return store.Classify(fmt.Errorf("ledger: verify %s: %w", t.name, err), path)
		}
		var gone []string
		for key, ref := range latest[t.name] {
			if len(ref.hash) != 0 && !seen[key] {
				gone = append(gone, key)
			}
		}
		sort.Strings(gone)
		for _, key := range gone {
			res.Broken(app.AuditProblem{Seq: latest[t.name][key].seq, Reason: "record_deleted", Table: t.name, Record: key})
		}
	}
	return nil
}

// verifyNamed checks only the records in latest, each by its key.
func verifyNamed(ctx context.Context, tx *sql.Tx, latest map[string]map[string]recLatest, res *VerifyResult, path string) error {
	for _, t := range recTables {
		keys := make([]string, 0, len(latest[t.name]))
		for k := range latest[t.name] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, key := range keys {
			ref := latest[t.name][key]
			cur, err := currentHash(ctx, tx, t, key)
			if err != nil {
				return store.Classify(fmt.Errorf("ledger: verify %s: %w", t.name, err), path)
			}
			res.Records++
			switch {
			case len(ref.hash) == 0 && len(cur) != 0:
				res.Broken(app.AuditProblem{Seq: ref.seq, Reason: "record_restored", Table: t.name, Record: key})
			case len(ref.hash) != 0 && len(cur) == 0:
				res.Broken(app.AuditProblem{Seq: ref.seq, Reason: "record_deleted", Table: t.name, Record: key})
			case !hmacEqual(ref.hash, cur):
				res.Broken(app.AuditProblem{Seq: ref.seq, Reason: "record_changed", Table: t.name, Record: key})
			}
		}
	}
	return nil
}
