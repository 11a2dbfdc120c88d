// Command bench prints the gate verify and sync figures (docs/decisions.md)
// (`go run ./offline/sim/gatesim/cmd/bench --size N`; SIZE env sets the default).
package main

import (
	"context"
	"os"

	"stationdesk/offline/sim/gatesim"
)

func main() { os.Exit(gatesim.Bench(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }
