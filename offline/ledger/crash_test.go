package ledger

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/store"
)

const crashEnv = "STATIONDESK_LEDGER_CRASH_CHILD"

// TestCrashChild is the child of TestKillDuringWrites: it appends audit
// entries and enqueues items in a loop, printing "ack N" after item N
// committed, until it is killed. It does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("child process of TestKillDuringWrites only")
	}
	ctx := context.Background()
	keys, err := LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(ctx, filepath.Join(dir, FileName), keys, Options{KDF: testKDF, Terminal: "T01"})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := l.db.Read().QueryRow("SELECT count(*) FROM outbox").Scan(&n); err != nil {
		t.Fatal(err)
	}
	// Repeat the last item first: a retry after a crash must not duplicate it.
	if n > 0 {
		if created, err := l.Enqueue(ctx, crashItem(n)); err != nil || created {
			t.Fatalf("re-enqueue %d: created=%v err=%v", n, created, err)
		}
	}
	for i := n + 1; ; i++ {
		err := l.WriteTx(ctx, func(tx *sql.Tx) error {
			if _, err := l.AppendTx(ctx, tx, app.AuditEntry{Operator: "1001", Action: app.ActTicketSale,
				Subject: fmt.Sprintf("crash-%d", i), Outcome: app.OutcomeSuccess, Detail: "paired"}); err != nil {
				return err
			}
			_, err := l.EnqueueTx(ctx, tx, crashItem(i))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := l.Append(ctx, app.AuditEntry{Operator: "1001", Action: app.ActShiftOpen, Outcome: app.OutcomeSuccess, Detail: "solo"}); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(os.Stdout, "ack %d\n", i)
	}
}

func crashItem(i int) NewItem {
	return NewItem{Kind: "sale", Key: fmt.Sprintf("crash-%d", i), Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), Personal: app.Sensitive(fmt.Sprintf("person %d", i))}
}

// TestKillDuringWrites SIGKILLs a child process at random points while it
// writes paired audit entries and outbox items, then checks that every
// acknowledged item is there exactly once, nothing half-written remains
// (each item has its audit entry and vice versa), and the chain verifies.
func TestKillDuringWrites(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in child")
	}
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	dir := t.TempDir()
	keys, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	maxAck := 0
	const rounds = 8
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		want := 2 + rng.IntN(25)
		got := 0
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "ack "); ok {
				n, _ := strconv.Atoi(v)
				maxAck = max(maxAck, n)
				if got++; got >= want {
					break
				}
			}
		}
		if got < want {
			cmd.Wait()
			t.Fatalf("round %d: child stopped after %d acks: %s", round, got, stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond) // fault injection: the kill lands at a random moment
		cmd.Process.Signal(syscall.SIGKILL)
		// Read the acks written between the last one counted and the kill:
		// the child kept committing while we slept. The pipe ends when the
		// child is gone.
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
				n, _ := strconv.Atoi(v)
				maxAck = max(maxAck, n)
			}
		}
		cmd.Wait()

		l, err := Open(context.Background(), filepath.Join(dir, FileName), keys, Options{KDF: testKDF, IntegrityCheck: true})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		checkCrashInvariants(t, l, round, maxAck)
		l.Close()
	}
	t.Logf("%d rounds, %d items acknowledged before the last kill", rounds, maxAck)
}

func checkCrashInvariants(t *testing.T, l *Ledger, round, maxAck int) {
	t.Helper()
	ctx := context.Background()
	res, err := l.Verify(ctx)
	if err != nil || !res.OK {
		t.Fatalf("round %d: chain after SIGKILL: %+v %v", round, res, err)
	}
	rows, err := l.db.Read().Query("SELECT idem_key FROM outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var k string
		rows.Scan(&k)
		n++
		if k != fmt.Sprintf("crash-%d", n) {
			t.Fatalf("round %d: item %d has key %s (lost or duplicated item)", round, n, k)
		}
	}
	rows.Close()
	if n < maxAck || n > maxAck+1 {
		t.Fatalf("round %d: %d items stored, %d acknowledged (lost, or more than the one in flight)", round, n, maxAck)
	}
	var paired, distinct int
	l.db.Read().QueryRow("SELECT count(*), count(DISTINCT subject) FROM audit_log WHERE detail = 'paired'").Scan(&paired, &distinct)
	if paired != n || distinct != n {
		t.Fatalf("round %d: %d items but %d paired audit entries (%d distinct): half-written transaction", round, n, paired, distinct)
	}
	due, err := l.Due(ctx, 1_000_000)
	if err != nil || len(due) != n || due[n-1].Personal.Reveal() != fmt.Sprintf("person %d", n) {
		t.Fatalf("round %d: sealed payloads after crash: %d due, %v", round, len(due), err)
	}
}

// TestLedgerDiskFull fills a tiny tmpfs with paired audit entries and
// outbox items: the write that does not fit fails with "disk_full" and
// leaves nothing behind, the chain verifies, and sales would stop.
func TestLedgerDiskFull(t *testing.T) {
	ctx := context.Background()
	keysDir := t.TempDir()
	keys, err := LoadOrCreateKeys(keysDir)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tiny")
	mountTmpfs(t, dir, "size=600k")
	path := filepath.Join(dir, FileName)
	l, err := Open(ctx, path, keys, Options{KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { l.Close() }()
	body := []byte(`{"pad":"` + strings.Repeat("x", 3000) + `"}`)
	committed := 0
	var fullErr error
	for i := 1; i < 10000; i++ {
		err := l.WriteTx(ctx, func(tx *sql.Tx) error {
			if _, err := l.AppendTx(ctx, tx, app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Subject: fmt.Sprintf("s-%d", i), Outcome: app.OutcomeSuccess, Detail: "paired"}); err != nil {
				return err
			}
			_, err := l.EnqueueTx(ctx, tx, NewItem{Kind: "sale", Key: fmt.Sprintf("s-%d", i), Body: body, Personal: "p"})
			return err
		})
		if err != nil {
			fullErr = err
			break
		}
		committed = i
	}
	if app.ErrorCode(fullErr) != app.CodeUnavailable || app.ErrorReason(fullErr) != store.ReasonDiskFull {
		t.Fatalf("after %d writes: err = %v, want disk_full", committed, fullErr)
	}
	if !strings.Contains(app.UserMessage(fullErr, app.LangEN), "Disk full") {
		t.Errorf("message = %q", app.UserMessage(fullErr, app.LangEN))
	}
	// The same sale again (the clerk retries): still refused, still nothing half-written.
	if err := l.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := l.AppendTx(ctx, tx, app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Subject: fmt.Sprintf("s-%d", committed+1), Outcome: app.OutcomeSuccess, Detail: "paired"}); err != nil {
			return err
		}
		_, err := l.EnqueueTx(ctx, tx, NewItem{Kind: "sale", Key: fmt.Sprintf("s-%d", committed+1), Body: body, Personal: "p"})
		return err
	}); app.ErrorReason(err) != store.ReasonDiskFull {
		t.Errorf("retried sale on a full disk: %v", err)
	}
	check := func(stage string) {
		var items, paired int
		l.db.Read().QueryRow("SELECT count(*) FROM outbox").Scan(&items)
		l.db.Read().QueryRow("SELECT count(*) FROM audit_log WHERE detail = 'paired'").Scan(&paired)
		if items != committed || paired != committed {
			t.Fatalf("%s: %d items, %d audit entries; want %d each", stage, items, paired, committed)
		}
		if res, err := l.Verify(ctx); err != nil || !res.OK {
			t.Fatalf("%s: chain %+v %v", stage, res, err)
		}
	}
	check("after disk full")
	l.Close()
	if l, err = Open(ctx, path, keys, Options{KDF: testKDF}); err != nil {
		t.Fatalf("reopen on the full disk: %v", err)
	}
	check("after reopen")
	t.Logf("disk full after %d paired writes", committed)
}

func TestDamagedLedgerRefused(t *testing.T) {
	f := newFixture(t)
	appendN(t, f, 50)
	f.l.Close()
	f.l = nil
	b, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4096 * 2; i < 4096*2+64; i++ { // scramble page 3's b-tree header
		b[i] ^= 0xa5
	}
	os.WriteFile(f.path, b, 0o600)
	before := sha256.Sum256(b)
	_, err = Open(context.Background(), f.path, f.keys, f.opts())
	if app.ErrorReason(err) != store.ReasonDamaged {
		t.Fatalf("err = %v, want db_damaged", err)
	}
	after, _ := os.ReadFile(f.path)
	if sha256.Sum256(after) != before {
		t.Fatal("damaged ledger was modified")
	}
	if _, err := VerifyFolder(context.Background(), f.dir, ""); app.ErrorReason(err) != store.ReasonDamaged {
		t.Fatalf("VerifyFolder on a damaged ledger: %v, want db_damaged", err)
	}
}
