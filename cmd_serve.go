package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"stationdesk/app"
	"stationdesk/offline/verify"
)

// cmdServe is `stationdesk serve --config FILE [--demo-key]`: the gate verify
// service, sync and outbox without a GUI, until SIGINT/SIGTERM.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/stationdesk/serve.toml", "config file")
	demoKey := fs.Bool("demo-key", false, "pin the public demo manifest key (demo/simulator only)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := verify.LoadServeConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "serve:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := verify.Deps{Logger: log, Progress: func(p app.SyncProgress) {
		if p.Phase == app.SyncSnapshot && p.Total > 0 && p.Rows%(1<<20) < 200_000 {
			fmt.Fprintf(stdout, "snapshot %d/%d rows (%.0f%%), eta %s\n", p.Rows, p.Total, 100*float64(p.Rows)/float64(p.Total), p.ETA.Round(time.Second))
		}
	}}
	if *demoKey {
		d.PinnedKey = demoManifestKey()
	}
	st, err := verify.Start(ctx, cfg, d)
	if err != nil {
		var ae *app.Error
		if errors.As(err, &ae) {
			fmt.Fprintln(stderr, "serve:", ae.Message(app.LangEN))
			fmt.Fprintln(stderr, "serve:", ae.Message(app.LangZH))
		} else {
			// Unclassified start-up errors name files and ports, never
			// personal data: shown as they are, for the technician.
			fmt.Fprintln(stderr, "serve:", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "gate verify service on %s (mode %s)\n", st.Addr, st.Server.Mode())
	select {
	case <-ctx.Done():
	case err := <-st.Errors():
		log.Error("gate service failed", "err", err)
		st.Stop()
		return 1
	}
	if err := st.Stop(); err != nil {
		log.Warn("stop", "err", err)
	}
	return 0
}
