package ledger

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stationdesk/app"
)

func (f *fixture) closeLedger() {
	if f.l != nil {
		f.l.Close()
		f.l = nil
	}
}

func readCP(t *testing.T, f *fixture) Checkpoint {
	t.Helper()
	cp, err := readCheckpoint(f.dir, f.keys)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func brokenEntries(t *testing.T, f *fixture) []app.AuditEntry {
	t.Helper()
	ent, err := f.l.List(context.Background(), app.AuditFilter{Action: ActChainBroken})
	if err != nil {
		t.Fatal(err)
	}
	return ent
}

// TestCheckpointWrittenEveryCommit: after each commit the signed
// checkpoint names the head.
func TestCheckpointWrittenEveryCommit(t *testing.T) {
	f := newFixture(t)
	for i := 1; i <= 3; i++ {
		appendN(t, f, 1)
		if cp := readCP(t, f); cp.Seq != int64(i) {
			t.Fatalf("checkpoint seq %d after %d commits", cp.Seq, i)
		}
	}
	st, err := os.Stat(filepath.Join(f.dir, CheckpointFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("checkpoint file %v %v, want 0600", st, err)
	}
}

// TestCheckpointDetects: a wiped audit log, a ledger truncated to 0 bytes,
// a rolled-back ledger and a replaced one all verified or started silently
// before; now `audit verify` reports each, and the desk's open flags it,
// records it in the chain and keeps the old checkpoint.
func TestCheckpointDetects(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		damage       func(t *testing.T, f *fixture)
	}{
		{"WipedAuditLog", "ledger_rolled_back", func(t *testing.T, f *fixture) {
			raw := f.raw(t)
			mustExec(t, raw, "DROP TRIGGER audit_log_no_delete")
			mustExec(t, raw, "DROP TRIGGER audit_records_no_delete")
			mustExec(t, raw, "DELETE FROM audit_log")
			mustExec(t, raw, "DELETE FROM audit_head")
			mustExec(t, raw, "DELETE FROM audit_records")
			raw.Close()
		}},
		{"ZeroBytes", "ledger_empty", func(t *testing.T, f *fixture) {
			os.Remove(f.path + "-wal")
			os.Remove(f.path + "-shm")
			if err := os.Truncate(f.path, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"RolledBack", "ledger_rolled_back", func(t *testing.T, f *fixture) {
			old, _ := os.ReadFile(f.path)
			cp, _ := os.ReadFile(filepath.Join(f.dir, CheckpointFileName))
			f.reopen(t)
			appendN(t, f, 3)
			f.closeLedger()
			os.WriteFile(f.path, old, 0o600)
			if now, _ := os.ReadFile(filepath.Join(f.dir, CheckpointFileName)); string(now) == string(cp) {
				t.Fatal("checkpoint did not move on")
			}
		}},
		{"Replaced", "ledger_replaced", func(t *testing.T, f *fixture) {
			// Another ledger with the same keys and as many entries.
			other := t.TempDir()
			l, err := Open(context.Background(), filepath.Join(other, FileName), f.keys, Options{Clock: f.clock, KDF: testKDF, Terminal: "T09"})
			if err != nil {
				t.Fatal(err)
			}
			for range readCP(t, f).Seq {
				if err := l.Append(context.Background(), app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Outcome: app.OutcomeSuccess, Detail: "other"}); err != nil {
					t.Fatal(err)
				}
			}
			l.Close()
			b, _ := os.ReadFile(filepath.Join(other, FileName))
			os.Remove(f.path + "-wal")
			os.Remove(f.path + "-shm")
			os.WriteFile(f.path, b, 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			sampleRecords(t, f)
			head := readCP(t, f).Seq
			f.closeLedger()
			tc.damage(t, f)
			res, err := VerifyFolder(ctx, f.dir, "")
			if err != nil {
				t.Fatal(err)
			}
			if res.OK || res.Reason != tc.reason && !(tc.reason == "ledger_rolled_back" && res.Checkpoint == "ahead") {
				t.Fatalf("audit verify: %+v, want %s", res, tc.reason)
			}
			f.reopen(t)
			st := f.l.StartStatus()
			if !st.Broken || st.Result.CheckpointSeq < head {
				t.Fatalf("start check %+v, want broken against checkpoint %d", st, head)
			}
			if ent := brokenEntries(t, f); len(ent) != 1 || ent[0].Outcome != app.OutcomeFailure {
				t.Fatalf("chain_broken entries %+v", ent)
			}
			kept, _ := filepath.Glob(filepath.Join(f.dir, CheckpointFileName+".broken-*"))
			if len(kept) != 1 {
				t.Fatalf("old checkpoint not kept: %v", kept)
			}
			// The break stays reported by the full check.
			if res, _ := f.l.Verify(ctx); res.OK {
				t.Fatalf("Verify after a start on a broken ledger: %+v", res)
			}
		})
	}
}

// TestCheckpointMissing: no checkpoint file. A new ledger is simply
// anchored; a non-empty one is verified in full, anchored, and the fact
// audited — not flagged (a ledger from before checkpoints has none).
func TestCheckpointMissing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if st := f.l.StartStatus(); st.Broken || st.Result.Checkpoint != "missing" {
		t.Fatalf("new ledger: %+v", st)
	}
	sampleRecords(t, f)
	f.closeLedger()
	os.Remove(filepath.Join(f.dir, CheckpointFileName))
	res, err := VerifyFolder(ctx, f.dir, "")
	if err != nil || !res.OK || res.Checkpoint != "missing" {
		t.Fatalf("audit verify: %+v %v, want ok with checkpoint missing", res, err)
	}
	f.reopen(t)
	if st := f.l.StartStatus(); st.Broken || st.Result.Checkpoint != "missing" || st.Result.Records == 0 {
		t.Fatalf("start: %+v, want a full check, not broken", st)
	}
	ent, _ := f.l.List(ctx, app.AuditFilter{Action: ActCheckpoint})
	if len(ent) != 1 || !strings.Contains(ent[0].Detail, "missing") {
		t.Fatalf("audit.checkpoint entries %+v", ent)
	}
	if cp := readCP(t, f); cp.Seq != int64(len(ent)) && cp.Seq == 0 {
		t.Fatalf("no new checkpoint: %+v", cp)
	}
}

// TestCheckpointCorrupt: a damaged checkpoint or one whose signature does
// not hold is flagged ("checkpoint_invalid"), the chain verified in full.
func TestCheckpointCorrupt(t *testing.T) {
	for name, edit := range map[string]func(b []byte) []byte{
		"Garbage": func([]byte) []byte { return []byte("{not json") },
		"SeqEdited": func(b []byte) []byte {
			var c checkpointFile
			json.Unmarshal(b, &c)
			c.Seq--
			out, _ := json.Marshal(c)
			return out
		},
		"OtherKey": func(b []byte) []byte {
			other, _ := NewKeys()
			var c checkpointFile
			json.Unmarshal(b, &c)
			hash, _ := readCheckpointHash(c)
			dir, _ := os.MkdirTemp("", "cp")
			defer os.RemoveAll(dir)
			writeCheckpoint(dir, other, c.Seq, hash, t0)
			out, _ := os.ReadFile(filepath.Join(dir, CheckpointFileName))
			return out
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			sampleRecords(t, f)
			f.closeLedger()
			p := filepath.Join(f.dir, CheckpointFileName)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, edit(b), 0o600)
			res, err := VerifyFolder(context.Background(), f.dir, "")
			if err != nil || res.OK || res.Reason != "checkpoint_invalid" || res.Checkpoint != "invalid" {
				t.Fatalf("audit verify: %+v %v", res, err)
			}
			f.reopen(t)
			if st := f.l.StartStatus(); !st.Broken || st.Result.Reason != "checkpoint_invalid" {
				t.Fatalf("start: %+v", st)
			}
		})
	}
}

func readCheckpointHash(c checkpointFile) ([]byte, error) {
	var h []byte
	for i := 0; i+1 < len(c.Hash); i += 2 {
		var v byte
		for _, ch := range c.Hash[i : i+2] {
			v <<= 4
			switch {
			case ch >= '0' && ch <= '9':
				v |= byte(ch - '0')
			default:
				v |= byte(ch-'a') + 10
			}
		}
		h = append(h, v)
	}
	return h, nil
}

// TestCheckpointPowerCut: the power fails after a commit and before its
// checkpoint is written (the hook stops the write there). The next open
// finds the checkpoint one behind, verifies from it forward, signs the
// head: nothing lost, nothing flagged, nothing audited as broken.
func TestCheckpointPowerCut(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sampleRecords(t, f)
	before := readCP(t, f)
	cut := false
	f.l.testHookBeforeCheckpoint = func() bool { cut = true; return false }
	appendN(t, f, 1)
	if !cut {
		t.Fatal("the hook did not run")
	}
	f.closeLedger()
	if cp := readCP(t, f); cp.Seq != before.Seq {
		t.Fatalf("checkpoint moved to %d despite the cut", cp.Seq)
	}
	if res, err := VerifyFolder(ctx, f.dir, ""); err != nil || !res.OK || res.Checkpoint != "behind" {
		t.Fatalf("audit verify after the cut: %+v %v, want ok, behind", res, err)
	}
	f.reopen(t)
	st := f.l.StartStatus()
	if st.Broken || st.Result.Checkpoint != "behind" || st.Result.Entries != 1 {
		t.Fatalf("start after the cut: %+v, want behind by one, not broken", st)
	}
	if cp := readCP(t, f); cp.Seq != before.Seq+1 {
		t.Fatalf("checkpoint %d after reconciling, want %d", cp.Seq, before.Seq+1)
	}
	if len(brokenEntries(t, f)) != 0 {
		t.Fatal("a power cut was flagged as a break")
	}
	if res, err := f.l.Verify(ctx); err != nil || !res.OK || res.Head != before.Seq+1 {
		t.Fatalf("Verify: %+v %v", res, err)
	}
}
