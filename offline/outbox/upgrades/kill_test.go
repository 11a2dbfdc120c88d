//go:build unix

package upgrades_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"stationdesk/app"
	"stationdesk/offline/central"
	"stationdesk/offline/outbox/upgrades"
	"stationdesk/offline/sim/centralsim"
)

// TestKilledBetweenSentAndRecorded: the worker process is SIGKILLed after
// central applied the bind and answered, before the answer was recorded.
// On restart the item is still pending, is resent with its key, central
// replays its stored answer, and the item settles: one binding.
func TestKilledBetweenSentAndRecorded(t *testing.T) {
	e := newEnv(t, envOpt{})
	addr := e.sim.Addr()
	e.sim.Stop()
	key := app.NewIdempotencyKey()
	r, err := e.up.Upgrade(e.ctx, e.op, app.UpgradeRequest{Key: key, Holder: e.doc(app.DocCNID, docAlice), Card: physical(cardAliceP1)})
	if err != nil || r.Outcome != app.UpgradePending {
		t.Fatalf("%v %q", err, r.Outcome)
	}
	if err := e.sim.Start(e.ctx, addr); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.v")
	cmd.Env = append(os.Environ(), "FORWARD_KILL_CHILD=1",
		"FORWARD_KILL_DB="+filepath.Join(e.dir, upgrades.FileName),
		"FORWARD_KILL_URL="+e.sim.URL(),
		"FORWARD_KILL_SEAL="+hex.EncodeToString(e.sealKey))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child did not die: %v\n%s", err, out.String())
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL\n%s", err, out.String())
	}
	// Central applied it; the station did not record the answer.
	if e.boundTo(cardAliceP1) != "alice" {
		t.Fatal("central did not apply the bind the child sent")
	}
	list, _ := e.up.Pending(e.ctx, 10)
	if len(list) != 1 || list[0].State != app.PendingWaiting {
		t.Fatalf("after the kill: %+v", list)
	}
	// Restart: reconcile by key.
	e.coolBreaker()
	if n, err := e.worker.RunOnce(e.ctx); n != 1 || err != nil {
		t.Fatalf("settled %d %v", n, err)
	}
	list, _ = e.up.Pending(e.ctx, 10)
	if list[0].State != app.PendingConfirmed {
		t.Fatalf("state %q", list[0].State)
	}
	if n := e.bindings(); n != 3 {
		t.Fatalf("%d bindings, want 3 (one new)", n)
	}
	if n, _ := e.worker.RunOnce(e.ctx); n != 0 {
		t.Fatal("settled twice")
	}
}

// killAfterBind sends the bind, then kills the process before the answer
// can be recorded.
type killAfterBind struct{ app.Central }

func (k killAfterBind) Bind(ctx context.Context, key string, req app.BindRequest) (app.BindResult, error) {
	_, err := k.Central.Bind(ctx, key, req)
	if err == nil {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return app.BindResult{}, err
}

// TestKillChild is the child process of TestKilledBetweenSentAndRecorded.
func TestKillChild(t *testing.T) {
	if os.Getenv("FORWARD_KILL_CHILD") != "1" {
		t.Skip("helper process for TestKilledBetweenSentAndRecorded")
	}
	ctx := context.Background()
	key, _ := hex.DecodeString(os.Getenv("FORWARD_KILL_SEAL"))
	ob, err := upgrades.OpenOutbox(ctx, os.Getenv("FORWARD_KILL_DB"), upgrades.OutboxOptions{Sealer: newSealer(t, key), MACKey: macKeyFor(key)})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := central.New(central.Config{BaseURL: os.Getenv("FORWARD_KILL_URL"), StationToken: centralsim.DefaultStationToken})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := app.NewTokenizer(bytes.Repeat([]byte{7}, 32))
	up, err := app.NewUpgrades(app.UpgradesConfig{Central: killAfterBind{cl}, Outbox: ob, Audit: &memAudit{}, Tokens: tok})
	if err != nil {
		t.Fatal(err)
	}
	w, err := upgrades.New(upgrades.Config{Outbox: ob, Completer: up})
	if err != nil {
		t.Fatal(err)
	}
	n, err := w.RunOnce(ctx)
	t.Fatalf("child was not killed: settled %d, %v", n, err)
}
