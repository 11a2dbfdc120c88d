package zzprof

import (
	"context"
	"syscall"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/devices/idcard"
	"stationdesk/devices/scanner"
	"stationdesk/devices/sim"
	"stationdesk/devices/transitcard"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestEach(t *testing.T) {
	ctx := context.Background()
	d, _ := sim.StartDemo(ctx, sim.DemoConfig{Baud: 115200})
	defer d.Close()
	p := d.Ports()
	for _, c := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"none", func(ctx context.Context) error { <-ctx.Done(); return nil }},
		{"scanner", scanner.New(scanner.Config{Port: p.Scanner, Baud: 115200}).Run},
		{"id", idcard.New(idcard.Config{Port: p.IDReader}).Run},
		{"card", transitcard.New(transitcard.Config{Port: p.CardReader}).Run},
	} {
		cctx, cancel := context.WithCancel(ctx)
		go c.run(cctx)
		time.Sleep(time.Second)
		c0, t0 := cpu(), time.Now()
		time.Sleep(5 * time.Second)
		t.Logf("%s: %.3f%%", c.name, 100*float64(cpu()-c0)/float64(time.Since(t0)))
		cancel()
		time.Sleep(300 * time.Millisecond)
	}
	_ = app.CompScanner
}
