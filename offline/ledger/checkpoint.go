package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"stationdesk/app"
	"stationdesk/app/atomicfile"
	"stationdesk/offline/store"
)

// CheckpointFileName is the signed chain head kept beside ledger.db.
//
// The checkpoint anchors the audit chain outside the ledger file: after
// every committed write the ledger writes {seq, hash} of its newest entry,
// signed with the station's Ed25519 key (Keys.SigningKey), atomically and
// durably (temp file, fsync, rename, fsync of the folder). A ledger that
// was wiped, truncated, rolled back or replaced no longer reaches the
// checkpoint's entry and is detected at the next open and by
// `stationdesk audit verify`.
//
// A power cut between the ledger's commit and the checkpoint's write
// leaves the checkpoint behind the ledger; the next open verifies the
// chain from the checkpoint forward and signs the current head, so nothing
// is lost and nothing is flagged. What this cannot detect alone: someone
// with the key file (who can sign), or someone who replaces both the
// ledger and the checkpoint with an older, consistent pair from a backup.
const CheckpointFileName = "ledger.checkpoint"

const checkpointVersion = 1

type checkpointFile struct {
	Version   int    `json:"version"`
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"` // base64 Ed25519
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash"` // hex, the chain hash of entry seq
	Written   string `json:"written"`
	Sig       string `json:"sig"` // base64 Ed25519 over checkpointMessage
}

func checkpointMessage(c checkpointFile) []byte {
	return app.CheckpointMessage(c.KeyID, c.Seq, c.Hash, c.Written)
}

// Checkpoint is a verified, signed chain head.
type Checkpoint struct {
	Seq     int64
	Hash    []byte
	Written time.Time
}

var errCheckpointMissing = errors.New("checkpoint missing")

// readCheckpoint reads and checks the checkpoint in dir: errCheckpointMissing
// when there is none, another error when it is damaged, not signed by
// keys or not this station's.
func readCheckpoint(dir string, keys *Keys) (Checkpoint, error) {
	cp, _, err := readCheckpointFile(dir, keys)
	return cp, err
}

// readCheckpointFile is readCheckpoint that also returns the file's fields.
func readCheckpointFile(dir string, keys *Keys) (Checkpoint, checkpointFile, error) {
	var c checkpointFile
	b, err := os.ReadFile(filepath.Join(dir, CheckpointFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, c, errCheckpointMissing
	}
	if err != nil {
		return Checkpoint{}, c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Checkpoint{}, c, fmt.Errorf("checkpoint: %w", err)
	}
	pub := keys.SigningKey().Public().(ed25519.PublicKey)
	sig, err1 := base64.StdEncoding.DecodeString(c.Sig)
	hash, err2 := hex.DecodeString(c.Hash)
	at, err3 := time.Parse(time.RFC3339Nano, c.Written)
	switch {
	case c.Version != checkpointVersion:
		return Checkpoint{}, c, fmt.Errorf("checkpoint: version %d", c.Version)
	case c.KeyID != keys.ID:
		return Checkpoint{}, c, errors.New("checkpoint: another station's key")
	case err1 != nil || err2 != nil || err3 != nil || len(hash) != 32 || c.Seq < 0:
		return Checkpoint{}, c, errors.New("checkpoint: malformed")
	case !ed25519.Verify(pub, checkpointMessage(c), sig):
		return Checkpoint{}, c, errors.New("checkpoint: bad signature")
	}
	return Checkpoint{Seq: c.Seq, Hash: hash, Written: at}, c, nil
}

// writeCheckpoint signs {seq, hash} and writes it durably.
func writeCheckpoint(dir string, keys *Keys, seq int64, hash []byte, now time.Time) error {
	priv := keys.SigningKey()
	c := checkpointFile{Version: checkpointVersion, KeyID: keys.ID, PublicKey: base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)),
		Seq: seq, Hash: hex.EncodeToString(hash), Written: now.UTC().Format(time.RFC3339Nano)}
	c.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, checkpointMessage(c)))
	b, _ := json.MarshalIndent(c, "", "  ")
	return atomicfile.WriteFile(filepath.Join(dir, CheckpointFileName), append(b, '\n'), 0o600)
}

// SignedCheckpoint returns the checkpoint file beside the ledger as it
// was signed, for central (the forwarder sends it with the records). It
// is checked as at open: a missing file is CodeNotFound
// "checkpoint_missing", a damaged or foreign one CodeInternal
// "checkpoint_invalid".
func (l *Ledger) SignedCheckpoint() (app.LedgerCheckpoint, error) {
	_, c, err := readCheckpointFile(l.dir(), l.keys)
	if errors.Is(err, errCheckpointMissing) {
		return app.LedgerCheckpoint{}, app.WrapError(err, app.CodeNotFound, "checkpoint_missing", "账本检查点文件不存在。", "The ledger checkpoint file is missing.")
	}
	if err != nil {
		return app.LedgerCheckpoint{}, app.WrapError(err, app.CodeInternal, "checkpoint_invalid", "账本检查点文件无效。", "The ledger checkpoint file is not valid.")
	}
	return app.LedgerCheckpoint{KeyID: c.KeyID, PublicKey: c.PublicKey, Seq: c.Seq, Hash: c.Hash, Written: c.Written, Sig: c.Sig}, nil
}

func (l *Ledger) dir() string { return filepath.Dir(l.db.Path()) }

// afterCommit writes the checkpoint for the newest entry once the start
// check armed it. Commits that finish while one write is in progress are
// covered by the next (the checkpoint names the head, not each commit). A
// failed write is logged: the ledger holds the records, and the next
// commit or open writes the checkpoint again.
func (l *Ledger) afterCommit(ctx context.Context) {
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	if !l.ckArmed {
		return
	}
	var seq int64
	var hash []byte
	err := l.db.Read().QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) || err == nil && seq <= l.ckSeq {
		return
	}
	if err == nil && l.testHookBeforeCheckpoint != nil && !l.testHookBeforeCheckpoint() {
		return // a simulated power cut: the commit is durable, the checkpoint is not written
	}
	if err == nil {
		err = writeCheckpoint(l.dir(), l.keys, seq, hash, l.clock.Now())
	}
	if err != nil {
		l.log.Warn("ledger checkpoint not written; the next commit retries", "err", err)
		return
	}
	l.ckSeq = seq
}

// StartCheck is the outcome of the check Open runs against the
// checkpoint (see StartStatus).
type StartCheck struct {
	Result VerifyResult
	// Broken: the chain or the checkpoint does not hold; an
	// audit.chain_broken entry was appended and the old checkpoint kept as
	// ledger.checkpoint.broken-<unix ms>.
	Broken bool
}

// Audit actions of the start check.
const (
	ActChainBroken app.AuditAction = "audit.chain_broken"
	ActCheckpoint  app.AuditAction = "audit.checkpoint"
)

// StartStatus is what Open found when it checked the ledger against its
// checkpoint.
func (l *Ledger) StartStatus() StartCheck { return l.start }

// startCheck runs at Open, before anything can write: it compares the
// ledger's head with the checkpoint and verifies the chain from the
// checkpoint forward (in full when there is none), records a failure in
// the chain, and arms the checkpoint writer. Outcomes (Result.Checkpoint):
//   - "ok": the checkpoint names the head;
//   - "behind": the ledger has entries after the checkpoint (a power cut
//     between commit and checkpoint, or an older program): verified from
//     the checkpoint forward, the head is signed, not flagged;
//   - "missing": no checkpoint file; a new ledger is simply anchored, a
//     non-empty one is verified in full, anchored and the fact audited
//     (not flagged: a ledger from before checkpoints has none);
//   - "invalid": the file is damaged or not signed by this station's key:
//     flagged, the chain is verified in full;
//   - "ahead": the checkpoint names an entry the ledger does not have
//     (wiped, truncated, rolled back): flagged "ledger_rolled_back";
//   - an entry at the checkpoint's seq with another hash: flagged
//     "ledger_replaced".
func (l *Ledger) startCheck(ctx context.Context) error {
	cp, cpErr := readCheckpoint(l.dir(), l.keys)
	tx, err := l.db.Read().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.Classify(err, l.db.Path())
	}
	res, err := checkAgainst(ctx, tx, l.keys, l.db.Path(), cp, cpErr, false)
	tx.Rollback()
	if err != nil {
		return err
	}
	l.start = StartCheck{Result: res, Broken: !res.OK}
	l.ckMu.Lock()
	l.ckArmed = true
	l.ckMu.Unlock()
	var entry *app.AuditEntry
	switch {
	case !res.OK:
		aside := filepath.Join(l.dir(), fmt.Sprintf("%s.broken-%d", CheckpointFileName, l.clock.Now().UnixMilli()))
		if err := os.Rename(filepath.Join(l.dir(), CheckpointFileName), aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("ledger: keep the old checkpoint: %w", err)
		}
		l.log.Error("audit chain broken at start", "reason", res.Reason, "seq", res.FirstBroken, "table", res.Table, "record", res.Record)
		entry = &app.AuditEntry{Operator: "system", Action: ActChainBroken, Outcome: app.OutcomeFailure, Subject: res.Table + ":" + res.Record,
			Detail: fmt.Sprintf("%s at seq %d (checkpoint %s, seq %d); old checkpoint kept as %s", res.Reason, res.FirstBroken, res.Checkpoint, res.CheckpointSeq, filepath.Base(aside))}
		if res.Table == "" {
			entry.Subject = ""
		}
	case res.Checkpoint == "missing" && res.Head > 0:
		entry = &app.AuditEntry{Operator: "system", Action: ActCheckpoint, Outcome: app.OutcomeFailure,
			Detail: fmt.Sprintf("checkpoint file missing; chain verified in full (%d entries), new checkpoint written", res.Entries)}
	}
	if entry != nil {
		if err := l.Append(ctx, *entry); err != nil { // also writes the new checkpoint
			return err
		}
		return nil
	}
	l.afterCommit(ctx)
	return nil
}

// checkAgainst verifies the chain of tx against the checkpoint cp (cpErr
// from readCheckpoint) as startCheck describes.
// With full, the whole chain and every record are verified (audit verify);
// otherwise from the checkpoint forward (the start check).
func checkAgainst(ctx context.Context, tx *sql.Tx, keys *Keys, path string, cp Checkpoint, cpErr error, full bool) (VerifyResult, error) {
	from := chainPoint{}
	state := "ok"
	var head int64
	var headHash []byte
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM audit_log").Scan(&head); err != nil {
		return VerifyResult{}, store.Classify(err, path)
	}
	var problem *app.AuditProblem
	switch {
	case errors.Is(cpErr, errCheckpointMissing):
		state = "missing"
	case cpErr != nil:
		state = "invalid"
		problem = &app.AuditProblem{Seq: 1, Reason: "checkpoint_invalid"}
	case cp.Seq > head:
		state = "ahead"
		problem = &app.AuditProblem{Seq: head + 1, Reason: "ledger_rolled_back"}
	case cp.Seq > 0:
		err := tx.QueryRowContext(ctx, "SELECT hash FROM audit_log WHERE seq = ?", cp.Seq).Scan(&headHash)
		if errors.Is(err, sql.ErrNoRows) {
			// Purged since (retention): the anchor may be the entry.
			err = tx.QueryRowContext(ctx, "SELECT hash FROM audit_anchor WHERE id = 1 AND seq = ?", cp.Seq).Scan(&headHash)
		}
		switch {
		case errors.Is(err, sql.ErrNoRows): // purged behind the anchor: verify in full
		case err != nil:
			return VerifyResult{}, store.Classify(err, path)
		case !bytes.Equal(headHash, cp.Hash):
			state = "replaced"
			problem = &app.AuditProblem{Seq: cp.Seq, Reason: "ledger_replaced"}
		default:
			from = chainPoint{Seq: cp.Seq, Hash: cp.Hash}
		}
		if problem == nil && cp.Seq < head {
			state = "behind"
		}
	}
	if full {
		from = chainPoint{}
	}
	res, err := verifyTx(ctx, tx, keys, path, from)
	if err != nil {
		return res, err
	}
	if problem != nil {
		res.Broken(*problem)
	}
	res.Checkpoint, res.CheckpointSeq = state, cp.Seq
	return res, nil
}
