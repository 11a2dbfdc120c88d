// Command devdiag is the device diagnostics of `stationdesk devices …`
// as a small headless binary (no GUI, no cgo), for technicians' laptops
// and for trying the simulators by hand: `devdiag sim`, then
// `devdiag read-id --port <path>` in another shell.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"stationdesk/devices/diag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := diag.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
