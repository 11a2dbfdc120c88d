package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"stationdesk/app"
	"stationdesk/offline/datadir"
	"stationdesk/offline/sim/centralsim"
	"stationdesk/offline/sim/syncpub"
)

// cmdCentralsim runs `stationdesk centralsim` --listen ADDR --data DIR [--admin-token T]
// [--station-token T] [--no-demo] [--latency D]` until ctx ends. It prints
// the URL and the admin token to stdout and returns the exit status (0 on a
// clean stop, 2 on bad flags, 1 on failure).
func cmdCentralsim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("centralsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:7480", "listen address (loopback by default)")
	data := fs.String("data", "", "data folder for the simulator's SQLite file (required)")
	adminToken := fs.String("admin-token", "", "bearer token for /admin/* (random when empty; printed)")
	stationToken := fs.String("station-token", centralsim.DefaultStationToken, "bearer token stations must send")
	noDemo := fs.Bool("no-demo", false, "do not seed the demo riders into a new database")
	latency := fs.Duration("latency", 0, "answer latency to simulate")
	noSync := fs.Bool("no-sync", false, "do not serve the gate-cache sync objects under /v1/sync/ (served with syncpub.DemoKeys by default)")
	verbose := fs.Bool("v", false, "log requests and changes at debug level")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *data == "" {
		fmt.Fprintln(stderr, "centralsim: --data DIR is required")
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// The simulator's folder is a demo one (it holds demo riders and
	// the public demo keys): locked and marked as the desk's are, so a
	// second simulator, or a desk, on it stops here, and a production
	// folder is never used for it.
	dir, err := datadir.Open(*data, datadir.Demo)
	if err != nil {
		printStartError(stderr, "centralsim", err)
		return 1
	}
	defer dir.Close()
	srv, err := centralsim.New(centralsim.Config{
		DataDir:       *data,
		StationTokens: map[string]string{*stationToken: "station"},
		AdminToken:    *adminToken,
		NoDemo:        *noDemo,
		Clock:         app.SystemClock{},
		Logger:        log,
	})
	if err != nil {
		fmt.Fprintln(stderr, "centralsim:", app.UserMessage(err, app.LangEN))
		log.Debug("centralsim start failed", "err", err)
		return 1
	}
	defer srv.Close()
	if *latency > 0 {
		srv.SetFaults(centralsim.Faults{Latency: *latency})
	}
	if !*noSync && !srv.Mounted("/v1/sync/") {
		if _, err := srv.EnableSync(ctx, syncpub.DemoKeys()); err != nil {
			fmt.Fprintln(stderr, "centralsim: sync:", err)
			return 1
		}
	}
	if err := srv.Start(ctx, *listen); err != nil {
		fmt.Fprintln(stderr, "centralsim:", err)
		return 1
	}
	fmt.Fprintf(stdout, "central simulator on %s\nadmin token: %s\n", srv.URL(), srv.AdminToken())
	<-ctx.Done()
	return 0
}
