package main

import (
	"context"
	"io"

	"stationdesk/offline/sim/gatesim"
)

// cmdGatesim is `stationdesk gatesim`: a load generator that plays gates
// against a verify service.
func cmdGatesim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return gatesim.Main(ctx, args, stdout, stderr)
}
