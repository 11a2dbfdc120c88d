package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"stationdesk/app"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/upgrades"
)

// cmdAudit runs `stationdesk audit verify --data DIR [--keys DIR]`: it
// checks the hash chain of DIR/ledger.db with the station keys (in DIR
// unless --keys says otherwise; never created here), and the pending
// upgrades in DIR/pending.db against it (upgrades.VerifyFolder), and prints
// app.AuditVerifyResult as JSON ({"entries":N,"ok":bool,"first_broken":seq,
// "reason":"...",...}). It only reads (ledger.VerifyFolder): nothing in DIR
// is created, migrated or changed, and a read-only copy can be checked.
// Exit status: 0 intact, 1 broken, 2 usage error or the check could not
// run (then the JSON is {"ok":false,"error":"...","reason":"..."}).
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: stationdesk audit verify --data DIR [--keys DIR]")
		return 2
	}
	if len(args) == 0 || args[0] != "verify" {
		return usage()
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data folder holding ledger.db")
	keysDir := fs.String("keys", "", "folder holding station-keys.json (default: the data folder)")
	if err := fs.Parse(args[1:]); err != nil || *data == "" || fs.NArg() != 0 {
		return usage()
	}
	enc := json.NewEncoder(stdout)
	res, err := ledger.VerifyFolder(ctx, *data, *keysDir)
	if err == nil {
		err = verifyPending(ctx, *data, *keysDir, &res)
	}
	if err != nil {
		_ = enc.Encode(struct {
			OK     bool   `json:"ok"`
			Error  string `json:"error"`
			Reason string `json:"reason,omitempty"`
		}{false, app.UserMessage(err, app.LangEN), app.ErrorReason(err)})
		return 2
	}
	_ = enc.Encode(res)
	if !res.OK {
		return 1
	}
	return 0
}

// verifyPending checks the pending upgrades (pending.db) against what the
// ledger's chain says was queued and settled, reading only, and adds what
// does not hold to res (table "pending").
func verifyPending(ctx context.Context, data, keysDir string, res *app.AuditVerifyResult) error {
	if keysDir == "" {
		keysDir = data
	}
	keys, err := ledger.LoadKeys(keysDir)
	if err != nil {
		return err
	}
	entries, err := ledger.FolderEntries(ctx, data, app.ActCardBindQueued, app.ActCardUnbindQueue, app.ActCardBind, app.ActCardUnbind)
	if err != nil {
		return err
	}
	var claims []upgrades.LedgerClaim
	for _, e := range entries {
		if c, ok := upgrades.ClaimOf(e.Seq, e.Action, e.Outcome, e.Detail); ok {
			claims = append(claims, c)
		}
	}
	n, probs, err := upgrades.VerifyFolder(ctx, data, keys.PendingKey(), claims)
	if err != nil {
		return err
	}
	res.Records += n
	for _, p := range probs {
		res.Broken(p)
	}
	return nil
}
