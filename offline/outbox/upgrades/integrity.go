package upgrades

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"stationdesk/app"
	"stationdesk/offline/store"
)

// Integrity of pending.db (schema 2). Upgrades and unbinds queued while
// central was down are evidence like sales: an edited or deleted item must
// not go unnoticed. Each item row carries a MAC under the station's
// pending key (Keys.PendingKey, from the key file, never in this file);
// ids are given out 1, 2, 3… from a MACed head, so a deleted item leaves a
// hole; the retention purge leaves a MACed tombstone. The ledger's audit
// chain names every item it queued or settled (entries with "key=K"),
// which VerifyFolder checks against this file: an item the ledger queued
// must be here (or purged), an item the ledger settled must not be
// waiting again.
//
// The ledger entry is written after the pending item commits, so a power
// cut between the two leaves an item the ledger does not name yet: that is
// not flagged (nothing is lost; the item settles later).

func putField(h interface{ Write([]byte) (int, error) }, b []byte) {
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(b)))
	h.Write(l[:])
	h.Write(b)
}

func itemMAC(key []byte, id int64, k, kind, operator, subject, state string, created int64, hasPayload bool) []byte {
	m := hmac.New(sha256.New, key)
	putField(m, []byte("stationdesk-pending-v1"))
	putField(m, strconv.AppendInt(nil, id, 10))
	for _, s := range []string{k, kind, operator, subject, state} {
		putField(m, []byte(s))
	}
	putField(m, strconv.AppendInt(nil, created, 10))
	putField(m, []byte(strconv.FormatBool(hasPayload)))
	return m.Sum(nil)
}

func headMAC(key []byte, maxID int64) []byte {
	m := hmac.New(sha256.New, key)
	putField(m, []byte("stationdesk-pending-head-v1"))
	putField(m, strconv.AppendInt(nil, maxID, 10))
	return m.Sum(nil)
}

func goneMAC(key []byte, id int64, k, state string, purged int64) []byte {
	m := hmac.New(sha256.New, key)
	putField(m, []byte("stationdesk-pending-gone-v1"))
	putField(m, strconv.AppendInt(nil, id, 10))
	putField(m, []byte(k))
	putField(m, []byte(state))
	putField(m, strconv.AppendInt(nil, purged, 10))
	return m.Sum(nil)
}

const itemCols = "id, key, kind, operator, subject, state, created, payload IS NOT NULL, mac"

type itemRow struct {
	id                           int64
	key, kind, operator, subject string
	state                        string
	created                      int64
	hasPayload                   bool
	mac                          []byte
}

func scanItem(r interface{ Scan(...any) error }) (itemRow, error) {
	var it itemRow
	err := r.Scan(&it.id, &it.key, &it.kind, &it.operator, &it.subject, &it.state, &it.created, &it.hasPayload, &it.mac)
	return it, err
}

func (it itemRow) wantMAC(key []byte) []byte {
	return itemMAC(key, it.id, it.key, it.kind, it.operator, it.subject, it.state, it.created, it.hasPayload)
}

// remac recomputes the MAC of the item with key k inside tx (after a write
// that changed it).
func remac(ctx context.Context, tx *sql.Tx, macKey []byte, k string) error {
	it, err := scanItem(tx.QueryRowContext(ctx, "SELECT "+itemCols+" FROM pending WHERE key = ?", k))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "UPDATE pending SET mac = ? WHERE id = ?", it.wantMAC(macKey), it.id)
	return err
}

// nextID reads and checks the head and returns the id for a new item.
func nextID(ctx context.Context, tx *sql.Tx, macKey []byte) (int64, error) {
	var maxID int64
	var mac []byte
	err := tx.QueryRowContext(ctx, "SELECT max_id, mac FROM pending_head WHERE id = 1").Scan(&maxID, &mac)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errors.New("forward: pending.db has no head")
	}
	if err != nil {
		return 0, err
	}
	if !hmac.Equal(mac, headMAC(macKey, maxID)) {
		return 0, errors.New("forward: pending.db head does not verify (edited, or another station's key)")
	}
	return maxID + 1, nil
}

func setHead(ctx context.Context, tx *sql.Tx, macKey []byte, maxID int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO pending_head(id, max_id, mac) VALUES (1, ?, ?)
		ON CONFLICT(id) DO UPDATE SET max_id = excluded.max_id, mac = excluded.mac`, maxID, headMAC(macKey, maxID))
	return err
}

// adopt runs inside the migration to schema 2: the items that exist get
// their MACs and the head, under the key of the program that migrates.
func adopt(macKey []byte) func(ctx context.Context, tx *sql.Tx, version int) error {
	return func(ctx context.Context, tx *sql.Tx, version int) error {
		if version != 2 {
			return nil
		}
		rows, err := tx.QueryContext(ctx, "SELECT key FROM pending ORDER BY id")
		if err != nil {
			return err
		}
		var keys []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			keys = append(keys, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range keys {
			if err := remac(ctx, tx, macKey, k); err != nil {
				return err
			}
		}
		var maxID int64
		if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM pending").Scan(&maxID); err != nil {
			return err
		}
		return setHead(ctx, tx, macKey, maxID)
	}
}

// LedgerClaim is what the ledger's audit chain says about one pending
// item: entry Seq queued it (Settled false) or recorded central's final
// answer for it (Settled true).
type LedgerClaim struct {
	Seq     int64
	Key     string
	Settled bool
}

var claimKey = regexp.MustCompile(`(?:^| )key=([A-Za-z0-9._:-]{1,128})(?: |$)`)

// ClaimOf reads a ledger audit entry: the pending item it names, if it is
// one the app's upgrade use case wrote on success (queued: card.bind_queued
// / card.unbind_queued; settled: card.bind / card.unbind "forwarded …").
func ClaimOf(seq int64, action app.AuditAction, outcome app.AuditOutcome, detail string) (LedgerClaim, bool) {
	m := claimKey.FindStringSubmatch(detail)
	if m == nil {
		return LedgerClaim{}, false
	}
	switch {
	case (action == app.ActCardBindQueued || action == app.ActCardUnbindQueue) && outcome == app.OutcomeSuccess:
		return LedgerClaim{Seq: seq, Key: m[1]}, true
	case (action == app.ActCardBind || action == app.ActCardUnbind) && len(detail) > 10 && detail[:10] == "forwarded ":
		return LedgerClaim{Seq: seq, Key: m[1], Settled: true}, true
	}
	return LedgerClaim{}, false
}

// Table is the name problems with pending items carry.
const Table = "pending"

// VerifyFolder checks dataDir/pending.db with the station's pending key
// against the ledger's claims (see ClaimOf), reading only: the file is
// opened with store.OpenReadOnly, never created or migrated. A missing
// file is not a problem when no claim names an item (a desk that never
// queued one); otherwise every claimed item is "record_deleted". It
// returns the number of items checked and the problems found (table
// "pending", the item's key; "id N" for a hole): "record_changed" (the MAC
// does not verify, or the ledger settled an item that is waiting again),
// "record_deleted", "record_unaudited" (no MAC: written outside the
// program), "head_mismatch".
func VerifyFolder(ctx context.Context, dataDir string, macKey []byte, claims []LedgerClaim) (int, []app.AuditProblem, error) {
	path := filepath.Join(dataDir, FileName)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, missingAll(claims, nil), nil
	}
	db, closeDB, err := store.OpenReadOnly(ctx, path)
	if app.ErrorReason(err) == store.ReasonEmpty {
		return 0, append(missingAll(claims, nil), app.AuditProblem{Reason: "record_deleted", Table: Table, Record: "pending.db is empty"}), nil
	}
	if err != nil {
		return 0, nil, err
	}
	defer closeDB()
	return checkDB(ctx, db, path, macKey, claims)
}

// Check runs the checks of VerifyFolder on the open store without the
// ledger's claims (the desk's start check: every item's MAC, the head, no
// hole, the tombstones). It reads only.
func (o *Outbox) Check(ctx context.Context) (int, []app.AuditProblem, error) {
	return checkDB(ctx, o.db.Read(), o.db.Path(), o.mac, nil)
}

func checkDB(ctx context.Context, db *sql.DB, path string, macKey []byte, claims []LedgerClaim) (int, []app.AuditProblem, error) {
	var probs []app.AuditProblem
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, nil, store.Classify(err, path)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('pending', 'pending_head', 'pending_gone')").Scan(&n); err != nil {
		return 0, nil, store.Classify(err, path)
	}
	if n != 3 {
		return 0, append(missingAll(claims, nil), app.AuditProblem{Reason: "record_deleted", Table: Table, Record: "pending.db has no pending tables"}), nil
	}

	present := map[string]itemRow{}
	ids := map[int64]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT "+itemCols+" FROM pending ORDER BY id")
	if err != nil {
		return 0, nil, store.Classify(err, path)
	}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			rows.Close()
			return 0, nil, store.Classify(err, path)
		}
		present[it.key], ids[it.id] = it, true
		switch {
		case it.mac == nil:
			probs = append(probs, app.AuditProblem{Reason: "record_unaudited", Table: Table, Record: it.key})
		case !hmac.Equal(it.mac, it.wantMAC(macKey)):
			probs = append(probs, app.AuditProblem{Reason: "record_changed", Table: Table, Record: it.key})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, store.Classify(err, path)
	}
	gone := map[string]bool{}
	rows, err = tx.QueryContext(ctx, "SELECT id, key, state, purged, mac FROM pending_gone ORDER BY id")
	if err != nil {
		return 0, nil, store.Classify(err, path)
	}
	for rows.Next() {
		var id, purged int64
		var k, state string
		var mac []byte
		if err := rows.Scan(&id, &k, &state, &purged, &mac); err != nil {
			rows.Close()
			return 0, nil, store.Classify(err, path)
		}
		if !hmac.Equal(mac, goneMAC(macKey, id, k, state, purged)) {
			probs = append(probs, app.AuditProblem{Reason: "record_changed", Table: Table, Record: k})
			continue
		}
		gone[k], ids[id] = true, true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, store.Classify(err, path)
	}

	var maxID int64
	var mac []byte
	err = tx.QueryRowContext(ctx, "SELECT max_id, mac FROM pending_head WHERE id = 1").Scan(&maxID, &mac)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if len(ids) > 0 {
			probs = append(probs, app.AuditProblem{Reason: "head_mismatch", Table: Table, Record: "head missing"})
		}
	case err != nil:
		return 0, nil, store.Classify(err, path)
	case !hmac.Equal(mac, headMAC(macKey, maxID)):
		probs = append(probs, app.AuditProblem{Reason: "head_mismatch", Table: Table, Record: "head"})
	default:
		for id := range ids {
			if id > maxID {
				probs = append(probs, app.AuditProblem{Reason: "head_mismatch", Table: Table, Record: fmt.Sprintf("id %d after the head %d", id, maxID)})
			}
		}
		for id := int64(1); id <= maxID && len(probs) < app.AuditMaxProblems; id++ {
			if !ids[id] {
				probs = append(probs, app.AuditProblem{Reason: "record_deleted", Table: Table, Record: fmt.Sprintf("id %d", id)})
			}
		}
	}

	probs = missingAll(claims, func(c LedgerClaim) (string, bool) {
		it, ok := present[c.Key]
		switch {
		case !ok && !gone[c.Key]:
			return "record_deleted", true
		case ok && c.Settled && it.state == string(app.PendingWaiting):
			return "record_changed", true
		}
		return "", false
	}, probs...)
	return len(present), probs, nil
}

// missingAll adds a problem for each claim bad reports (every claim when
// bad is nil: the file is gone), named by the ledger entry's seq.
func missingAll(claims []LedgerClaim, bad func(LedgerClaim) (string, bool), probs ...app.AuditProblem) []app.AuditProblem {
	seen := map[string]bool{}
	for _, c := range claims {
		reason, isBad := "record_deleted", true
		if bad != nil {
			reason, isBad = bad(c)
		}
		if !isBad || seen[c.Key+reason] {
			continue
		}
		seen[c.Key+reason] = true
		probs = append(probs, app.AuditProblem{Seq: c.Seq, Reason: reason, Table: Table, Record: c.Key})
	}
	return probs
}
