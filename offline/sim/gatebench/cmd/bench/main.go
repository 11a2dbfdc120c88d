// Command bench prints the gate verify and sync figures (docs/decisions.md)
// (`go run ./offline/sim/gatebench/cmd/bench --size N`; SIZE env sets the default).
package main

import (
	"context"
	"os"

	"stationdesk/offline/sim/gatebench"
)

func main() { os.Exit(gatebench.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }
