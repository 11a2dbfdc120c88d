package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"stationdesk/app"
	"stationdesk/offline/sim/gatesim"
	"stationdesk/offline/sim/syncpub"
	"stationdesk/offline/verify"
)

// cmdGatesim is `stationdesk gatesim`: a load generator that plays gates
// against a verify service: --target URL --gate-id ID --key-file F
// --rate R --duration D [--cards FILE] [--synthetic N]`.
func cmdGatesim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "conformance" {
		return cmdConformance(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("gatesim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "http://127.0.0.1:8443", "verify service base URL")
	gate := fs.String("gate-id", "", "gate id")
	keyFile := fs.String("key-file", "", "file holding the gate key (64 hex)")
	rate := fs.Float64("rate", 100, "requests per second (open loop)")
	dur := fs.Duration("duration", 10*time.Second, "run time")
	cardsFile := fs.String("cards", "", "file with one card number (or qr:TOKEN) per line")
	synth := fs.Int("synthetic", 0, "use the first N synthetic-city card numbers")
	closed := fs.Int("closed", 0, "closed loop with this many workers (saturation) instead of --rate")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	kb, err := os.ReadFile(*keyFile)
	if err != nil || *gate == "" {
		fmt.Fprintln(stderr, "gatesim: --gate-id and a readable --key-file are required")
		return 2
	}
	key, err := app.ParseGateKey(strings.TrimSpace(string(kb)))
	if err != nil {
		fmt.Fprintln(stderr, "gatesim:", err)
		return 2
	}
	var cards []string
	if *cardsFile != "" {
		f, err := os.Open(*cardsFile)
		if err != nil {
			fmt.Fprintln(stderr, "gatesim:", err)
			return 2
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				cards = append(cards, l)
			}
		}
		f.Close()
	}
	for i := 0; i < *synth; i++ {
		cards = append(cards, syncpub.SyntheticCardNumber(i))
	}
	if len(cards) == 0 {
		fmt.Fprintln(stderr, "gatesim: give --cards FILE or --synthetic N")
		return 2
	}
	t := strings.TrimRight(*target, "/")
	if strings.HasPrefix(t, "http://") {
		// Plain-HTTP station LAN service: the raw generator (precise open
		// loop, latency from the intended send time, cheap enough not to
		// measure itself).
		res, err := gatesim.Load(ctx, gatesim.LoadOptions{Target: t, Gate: *gate, Key: key, Rate: *rate, Duration: *dur, Closed: *closed > 0, Conns: gatesimConns(*closed, stderr),
			Card: func(i int) string { return cards[i%len(cards)] }})
		if err != nil {
			fmt.Fprintln(stderr, "gatesim:", err)
			return 1
		}
		fmt.Fprintln(stdout, res.Summary())
		if res.BadSig > 0 {
			return 1
		}
		return 0
	}
	res, err := gatesim.Run(ctx, gatesim.Options{Target: t, Gate: *gate, Key: key, Rate: *rate, Duration: *dur, Cards: cards, Closed: *closed})
	if err != nil {
		fmt.Fprintln(stderr, "gatesim:", err)
		return 1
	}
	fmt.Fprintln(stdout, res.Summary())
	if res.BadSig > 0 {
		return 1
	}
	return 0
}

// cmdConformance is `stationdesk gatesim conformance --target URL --gate-id
// G --key-file F [--pin SHA256] [--card N]`: the gate contract's checks
// against any verify server, one PASS/FAIL line per clause; exit 1 when
// any clause fails, 2 on a usage error. --key-file takes the 64 hex
// characters or a provisioning file (then --gate-id, --target and --pin
// default to its values).
func cmdConformance(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gatesim conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "verify service base URL (http:// or https://)")
	gate := fs.String("gate-id", "", "gate id")
	keyFile := fs.String("key-file", "", "file holding the gate key (64 hex) or a provisioning file")
	pin := fs.String("pin", "", "https: the station certificate's SHA-256 (hex)")
	card := fs.String("card", "", "card number to ask about (default an unknown test number)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	kb, err := os.ReadFile(*keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "gatesim conformance: a readable --key-file is required")
		return 2
	}
	var key app.GateKey
	if p, k, perr := verify.ParseProvisioning(kb); perr == nil {
		key = k
		if *gate == "" {
			*gate = p.GateID
		}
		if *target == "" {
			*target = p.Endpoints[0]
		}
		if *pin == "" {
			*pin = p.TLSCertSHA256
		}
	} else if key, err = app.ParseGateKey(strings.TrimSpace(string(kb))); err != nil {
		fmt.Fprintln(stderr, "gatesim conformance: --key-file holds neither 64 hex characters nor a provisioning file")
		return 2
	}
	if *gate == "" || *target == "" {
		fmt.Fprintln(stderr, "gatesim conformance: --target and --gate-id are required")
		return 2
	}
	o := gatesim.ConformanceOptions{Target: *target, Gate: *gate, Key: key, Card: *card}
	if strings.HasPrefix(*target, "https://") {
		if *pin == "" {
			fmt.Fprintln(stderr, "gatesim conformance: an https target needs --pin (the station certificate's SHA-256)")
			return 2
		}
		o.TLS = verify.PinnedTLSClient(strings.ToLower(*pin))
	}
	fmt.Fprintf(stdout, "gate contract conformance: %s as gate %s\n", *target, *gate)
	if !gatesim.ConformanceReport(stdout, gatesim.Conformance(ctx, o)) {
		return 1
	}
	return 0
}

// gatesimConns is the load generator's connection count. The open loop
// starts with a few keep-alive connections, as a gate holds (it dials more
// only when all are busy): the verify service allows 16 connections per
// source address and sheds the oldest idle one beyond that, so a larger
// idle pool would lose its own requests. A closed loop uses one connection
// per outstanding request.
func gatesimConns(closed int, stderr io.Writer) int {
	if closed <= 0 {
		return 4
	}
	if closed > 16 {
		fmt.Fprintf(stderr, "gatesim: %d connections from one address exceed the verify service's 16 per address (max_conns_per_ip): the oldest are shed\n", closed)
	}
	return closed
}
