//go:build windows

package diag

import (
	"context"
	"fmt"
	"io"
)

func runSim(_ context.Context, _ []string, _ io.Reader, _ *jsonOut, stderr io.Writer) int {
	fmt.Fprintln(stderr, "sim: pseudo-terminal simulators need Linux")
	return ExitUsage
}

func runBench(_ context.Context, _ []string, _ *jsonOut, stderr io.Writer) int {
	fmt.Fprintln(stderr, "bench: needs the Linux pty simulators")
	return ExitUsage
}
