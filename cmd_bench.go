package main

import (
	"context"
	"fmt"
	"io"

	"stationdesk/devices/diag"
	"stationdesk/offline/sim/gatebench"
)

// cmdBench prints the figures the issues ask for: `bench gate [--size N]`
// (gate cache and verify service) and `bench devices` (readers at real
// baud over pseudo-terminals). The Go benchmarks of the other parts run
// from `make bench`.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: stationdesk bench gate [--size N] | bench devices [flags]")
		return 2
	}
	switch args[0] {
	case "gate":
		return gatebench.Main(ctx, args[1:], stdout, stderr)
	case "devices":
		return diag.Main(ctx, append([]string{"bench"}, args[1:]...), stdout, stderr)
	}
	fmt.Fprintf(stderr, "bench: unknown part %q (gate, devices)\n", args[0])
	return 2
}
