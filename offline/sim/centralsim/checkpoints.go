package centralsim

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"stationdesk/app"
	"stationdesk/offline/central"
)

// recordCheckpoint keeps the station's newest signed ledger checkpoint
// (POST /v1/records/checkpoint). The signature must verify; the station's
// public key is pinned at its first checkpoint (409 checkpoint_key_changed
// for another key); a checkpoint behind the one held is refused with 409
// checkpoint_behind (the station's ledger went back), the same seq with
// another hash with 409 checkpoint_forked. Equal checkpoints are accepted
// again (200).
func (s *Server) recordCheckpoint(ctx context.Context, tx *sql.Tx, body []byte) (int, any, *apiError) {
	var cp app.LedgerCheckpoint
	if e := decodeStrict(body, &cp); e != nil {
		return 0, nil, e
	}
	if err := cp.Verify(); err != nil {
		return 0, nil, &apiError{status: 400, code: "checkpoint_invalid", zh: "检查点签名无效。", en: "The checkpoint's signature does not verify."}
	}
	station := stationOf(ctx)
	held, found, err := loadCheckpoint(ctx, tx, station)
	if err != nil {
		return 0, nil, errInternal()
	}
	now := s.clock.Now()
	ack := central.WireCheckpointAck{Seq: cp.Seq, ReceivedAt: time.UnixMilli(now.UnixMilli()).UTC()}
	if found {
		switch {
		case held.PublicKey != cp.PublicKey:
			return 0, nil, &apiError{status: 409, code: "checkpoint_key_changed", zh: "检查点的签名密钥与本站原有密钥不同。",
				en: "The checkpoint is signed with another key than this station's."}
		case cp.Seq < held.Seq:
			s.log.Warn("station ledger checkpoint went back", "station", station, "held_seq", held.Seq, "got_seq", cp.Seq)
			return 0, nil, &apiError{status: 409, code: "checkpoint_behind", zh: "检查点早于中心已保存的检查点：车站账本可能被回退。",
				en:      "The checkpoint is older than the one central holds: the station's ledger may have been rolled back.",
				details: map[string]any{"held_seq": held.Seq}}
		case cp.Seq == held.Seq && cp.Hash != held.Hash:
			return 0, nil, &apiError{status: 409, code: "checkpoint_forked", zh: "同一序号的检查点内容不同：车站账本可能被替换。",
				en:      "A checkpoint with the same seq and another hash: the station's ledger may have been replaced.",
				details: map[string]any{"held_seq": held.Seq}}
		case cp.Seq == held.Seq:
			return http.StatusOK, ack, nil
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints(station, key_id, public_key, seq, hash, written, sig, received_at) VALUES (?,?,?,?,?,?,?,?)
		ON CONFLICT(station) DO UPDATE SET key_id = excluded.key_id, seq = excluded.seq, hash = excluded.hash, written = excluded.written,
		sig = excluded.sig, received_at = excluded.received_at`,
		station, cp.KeyID, cp.PublicKey, cp.Seq, cp.Hash, cp.Written, cp.Sig, now.UnixMilli()); err != nil {
		return 0, nil, errInternal()
	}
	return http.StatusCreated, ack, nil
}

// handleGetCheckpoint answers GET /v1/records/checkpoint: the calling
// station's checkpoint as central holds it (404 when none).
func (s *Server) handleGetCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, found, err := s.Checkpoint(r.Context(), stationOf(r.Context()))
	switch {
	case err != nil:
		writeError(w, errInternal())
	case !found:
		writeError(w, errNotFound("中心尚无本站的检查点。", "Central holds no checkpoint of this station yet."))
	default:
		writeJSON(w, http.StatusOK, cp)
	}
}

// Checkpoint returns the newest checkpoint the simulator holds for
// station (its id in Config.StationTokens).
func (s *Server) Checkpoint(ctx context.Context, station string) (app.LedgerCheckpoint, bool, error) {
	tx, err := s.db.Read().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return app.LedgerCheckpoint{}, false, err
	}
	defer tx.Rollback()
	return loadCheckpoint(ctx, tx, station)
}

func loadCheckpoint(ctx context.Context, tx *sql.Tx, station string) (app.LedgerCheckpoint, bool, error) {
	var cp app.LedgerCheckpoint
	err := tx.QueryRowContext(ctx, `SELECT key_id, public_key, seq, hash, written, sig FROM checkpoints WHERE station = ?`, station).
		Scan(&cp.KeyID, &cp.PublicKey, &cp.Seq, &cp.Hash, &cp.Written, &cp.Sig)
	if errors.Is(err, sql.ErrNoRows) {
		return cp, false, nil
	}
	return cp, err == nil, err
}
