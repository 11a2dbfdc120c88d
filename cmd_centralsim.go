package main

import (
	"context"
	"io"

	"stationdesk/offline/sim/centralsim"
)

// cmdCentralsim is `stationdesk centralsim`: the central simulator as a
// process of its own, for gate vendors and load tests (never the desk).
func cmdCentralsim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return centralsim.Main(ctx, args, stdout, stderr)
}
