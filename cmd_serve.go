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
	"stationdesk/offline/datadir"
	"stationdesk/offline/verify"
)

// cmdServe is `stationdesk serve --config FILE [--demo] [--demo-key]`: the
// gate verify service, sync and outbox without a GUI, until SIGINT/SIGTERM.
// It holds data_dir's lock while it runs and checks the folder's kind
// (production unless --demo), as the desk does.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/stationdesk/serve.toml", "config file")
	demoKey := fs.Bool("demo-key", false, "pin the public demo manifest key (demo/simulator only)")
	demo := fs.Bool("demo", false, "the data folder is a demo one (the desk's demo mode made it); without it the folder is production")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := verify.LoadServeConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "serve:", err)
		return 2
	}
	// The folder's lock and kind come first, exactly as the desk takes
	// them: a second serve (or a desk) on this folder stops here, naming
	// the folder and the PID that holds it, before any store is opened.
	kind := datadir.Production
	if *demo {
		kind = datadir.Demo
	}
	dir, err := datadir.Open(cfg.DataDir, kind)
	if err != nil {
		printStartError(stderr, "serve", err)
		return 1
	}
	defer dir.Close()
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
		printStartError(stderr, "serve", err)
		return 1
	}
	// The stores have created their files (SQLite's follow the umask).
	if err := dir.Secure(); err != nil {
		st.Stop()
		printStartError(stderr, "serve", err)
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

// printStartError prints a start-up refusal: an app error in both
// languages, anything else as it is (start-up errors name files and
// ports, never personal data; they are for the technician).
func printStartError(stderr io.Writer, cmd string, err error) {
	var ae *app.Error
	if errors.As(err, &ae) {
		fmt.Fprintln(stderr, cmd+":", ae.Message(app.LangEN))
		fmt.Fprintln(stderr, cmd+":", ae.Message(app.LangZH))
		return
	}
	fmt.Fprintln(stderr, cmd+":", err)
}
