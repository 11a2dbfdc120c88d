package sales_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/app/demo"
)

// TestNoPersonalDataInLogsOrFormats runs the ticket window over every demo
// rider (checks, sales, manual checks, a welfare exchange, an outage and
// the catch-up), formats every domain value it met with every verb, slog
// and JSON, and scans that and every log line of the run for the demo
// riders' ID numbers and names.
func TestNoPersonalDataInLogsOrFormats(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	e.openShift()
	var values []any
	var msgs []string
	for i, r := range demo.Riders() {
		if i == 4 {
			e.outage(true) // some riders while central is down
		}
		if i == 8 {
			e.outage(false)
		}
		c, err := e.sales.CheckBuyer(ctx, e.clerk, r.Identity)
		values = append(values, c, r.Identity, r.Identity.Doc, r.Identity.Name, c.Explanation())
		if err != nil {
			msgs = append(msgs, err.Error(), app.UserMessage(err, app.LangZH))
		}
		if c.ManualAllowed() {
			in := passInput(e.clock.Now().Add(-5 * time.Hour))
			values = append(values, in)
			res, next, err := e.sales.RecordManualCheck(ctx, e.clerk, c, in)
			values = append(values, res, res.Record, next)
			if err != nil {
				msgs = append(msgs, err.Error())
			}
			c = next
		}
		res, err := e.sales.Sell(ctx, e.clerk, c, cash)
		if err != nil {
			msgs = append(msgs, err.Error(), app.UserMessage(err, app.LangEN), app.UserMessage(err, app.LangZH))
			continue
		}
		values = append(values, res, res.Record, res.Record.Wire("demo-station"))
		msgs = append(msgs, res.Record.ReceiptLines(app.LangZH, e.fares)...)
	}
	ex, err := e.sales.Exchange(ctx, e.clerk, e.check("elder-special"), app.WelfareInput{DestCode: "0110"})
	if err != nil {
		t.Fatal(err)
	}
	values = append(values, ex)
	e.drain()
	items, st, err := e.fwd.Backlog(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	values = append(values, items, st)
	rep, _ := e.shifts.Report(ctx)
	values = append(values, rep)
	msgs = append(msgs, string(rep.CSV()))

	var out bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&out, nil))
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		b, _ := json.Marshal(v)
		out.Write(b)
		out.WriteByte('\n')
		lg.Info("value", "v", v)
	}
	out.WriteString(strings.Join(msgs, "\n"))
	if len(values) < 40 || !strings.Contains(e.logs.String(), "records forwarded") {
		t.Fatalf("the run covered too little: %d values, logs %d bytes", len(values), len(e.logs.String()))
	}
	assertNoPII(t, "formatted values and messages", out.String())
	assertNoPII(t, "logs of the run", e.logs.String())
	// The simulator's stored records hold no personal data in clear either.
	var n int
	if err := e.sim.DB().Read().QueryRow("SELECT count(*) FROM records").Scan(&n); err != nil || n < 10 {
		t.Fatalf("central holds %d records (%v)", n, err)
	}
}
