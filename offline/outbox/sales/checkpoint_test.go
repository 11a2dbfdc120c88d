package sales_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"stationdesk/app"
	"stationdesk/offline/ledger"
)

// TestCheckpointReachesCentral: after a sale is forwarded to the real
// simulator on loopback, the simulator holds the station's signed ledger
// checkpoint, its signature verifies with the station's public key (from
// the station key file, not from the message), and it names the ledger's
// head, which covers the forwarded record. A checkpoint that goes back is
// refused by central, and the desk's client says so.
func TestCheckpointReachesCentral(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	if _, found, err := e.sim.Checkpoint(ctx, "demo-station"); err != nil || found {
		t.Fatalf("before any forward the simulator holds a checkpoint (%v, %v)", found, err)
	}
	e.openShift()
	c := e.check("green-fresh")
	if _, err := e.sales.Sell(ctx, e.clerk, c, app.SaleInput{DestCode: "0114", Payment: app.PayCash}); err != nil {
		t.Fatal(err)
	}
	if n := e.drain(); n != 1 {
		t.Fatalf("forwarded %d", n)
	}
	held, found, err := e.sim.Checkpoint(ctx, "demo-station")
	if err != nil || !found {
		t.Fatalf("after a forward the simulator holds no checkpoint (%v)", err)
	}
	pub := e.keys.SigningKey().Public().(ed25519.PublicKey)
	if held.PublicKey != base64.StdEncoding.EncodeToString(pub) || held.KeyID != e.keys.ID {
		t.Fatalf("held checkpoint names key %s %s, want the station's", held.KeyID, held.PublicKey)
	}
	sig, _ := base64.StdEncoding.DecodeString(held.Sig)
	if !ed25519.Verify(pub, app.CheckpointMessage(held.KeyID, held.Seq, held.Hash, held.Written), sig) {
		t.Fatal("the held checkpoint's signature does not verify with the station's public key")
	}
	local, err := e.l.SignedCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	if held != local {
		t.Fatalf("central holds %+v, the ledger's checkpoint is %+v", held, local)
	}
	// The checkpoint covers the forwarded sale: its confirmation is in
	// the chain at or before the checkpoint's seq.
	var confirmedAt int64
	if err := e.l.DB().Read().QueryRow(`SELECT max(r.seq) FROM audit_records r JOIN outbox o ON o.idem_key = r.rec_key
		WHERE r.tbl = 'outbox' AND o.state = 'confirmed'`).Scan(&confirmedAt); err != nil {
		t.Fatal(err)
	}
	if confirmedAt == 0 || held.Seq < confirmedAt {
		t.Fatalf("held checkpoint seq %d does not cover the forwarded record's entry %d", held.Seq, confirmedAt)
	}
	// What the station's client gets back from central is the same.
	got, err := e.client.HeldCheckpoint(ctx)
	if err != nil || got != held {
		t.Fatalf("HeldCheckpoint = %+v, %v", got, err)
	}

	t.Run("ErrBehind", func(t *testing.T) {
		older := held
		older.Seq--
		priv := e.keys.SigningKey()
		older.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, app.CheckpointMessage(older.KeyID, older.Seq, older.Hash, older.Written)))
		_, err := e.client.SendCheckpoint(ctx, older)
		if app.ErrorReason(err) != "checkpoint_behind" || app.ErrorCode(err) != app.CodeConflict {
			t.Fatalf("an older checkpoint: %v (%s), want conflict checkpoint_behind", err, app.ErrorReason(err))
		}
		if now, _, _ := e.sim.Checkpoint(ctx, "demo-station"); now != held {
			t.Fatalf("central replaced its anchor with an older one: %+v", now)
		}
	})
	t.Run("ErrBadSignature", func(t *testing.T) {
		forged := held
		forged.Seq += 100
		_, err := e.client.SendCheckpoint(ctx, forged)
		if app.ErrorReason(err) != "checkpoint_invalid" {
			t.Fatalf("a checkpoint with a signature over other content: %v, want checkpoint_invalid", err)
		}
	})
	t.Run("ErrOtherKey", func(t *testing.T) {
		other, err := ledger.NewKeys()
		if err != nil {
			t.Fatal(err)
		}
		cp := held
		cp.Seq += 10
		cp.PublicKey = base64.StdEncoding.EncodeToString(other.SigningKey().Public().(ed25519.PublicKey))
		cp.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(other.SigningKey(), app.CheckpointMessage(cp.KeyID, cp.Seq, cp.Hash, cp.Written)))
		if _, err := e.client.SendCheckpoint(ctx, cp); app.ErrorReason(err) != "checkpoint_key_changed" {
			t.Fatalf("a checkpoint signed by another key: %v, want checkpoint_key_changed", err)
		}
	})

	// A second sale moves the anchor forward.
	if _, err := e.sales.Sell(ctx, e.clerk, e.check("green-fresh"), app.SaleInput{DestCode: "0114", Payment: app.PayCash}); err != nil {
		t.Fatal(err)
	}
	if n := e.drain(); n != 1 {
		t.Fatalf("second forward: %d", n)
	}
	if now, _, _ := e.sim.Checkpoint(ctx, "demo-station"); now.Seq <= held.Seq {
		t.Fatalf("after a second forward central holds seq %d, was %d", now.Seq, held.Seq)
	}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(e.l.DB().Path()), ledger.CheckpointFileName)); err != nil || len(b) == 0 {
		t.Fatalf("checkpoint file: %v", err)
	}
}
