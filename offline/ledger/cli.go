package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"stationdesk/app"
)

// AuditMain runs the "audit" sub-command; args are the words after
// "audit". Only "verify --data DIR [--keys DIR]" exists: it opens
// DIR/ledger.db with the station keys (in DIR unless --keys says
// otherwise; never created here), checks the hash chain and prints
// {"entries":N,"ok":bool,"first_broken":seq,"reason":"..."}.
// Exit status: 0 intact, 1 broken, 2 usage error or the check could not
// run (then the JSON is {"ok":false,"error":"...","reason":"..."}).
func AuditMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: stationdesk audit verify --data DIR [--keys DIR]")
		return 2
	}
	if len(args) == 0 || args[0] != "verify" {
		return usage()
	}
	fsFlags := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fsFlags.SetOutput(stderr)
	data := fsFlags.String("data", "", "data folder holding ledger.db")
	keysDir := fsFlags.String("keys", "", "folder holding station-keys.json (default: the data folder)")
	if err := fsFlags.Parse(args[1:]); err != nil || *data == "" || fsFlags.NArg() != 0 {
		return usage()
	}
	if *keysDir == "" {
		*keysDir = *data
	}
	enc := json.NewEncoder(stdout)
	fail := func(err error) int {
		enc.Encode(struct {
			OK     bool   `json:"ok"`
			Error  string `json:"error"`
			Reason string `json:"reason,omitempty"`
		}{false, app.UserMessage(err, app.LangEN), app.ErrorReason(err)})
		return 2
	}
	path := filepath.Join(*data, FileName)
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			err = app.WrapError(err, app.CodeNotFound, "ledger_missing",
				fmt.Sprintf("找不到账本文件：%s。", path), fmt.Sprintf("Ledger file not found: %s.", path))
		}
		return fail(err)
	}
	keys, err := LoadKeys(*keysDir)
	if err != nil {
		return fail(err)
	}
	l, err := Open(ctx, path, keys, Options{})
	if err != nil {
		return fail(err)
	}
	defer l.Close()
	res, err := l.Verify(ctx)
	if err != nil {
		return fail(err)
	}
	enc.Encode(res)
	if !res.OK {
		return 1
	}
	return 0
}
