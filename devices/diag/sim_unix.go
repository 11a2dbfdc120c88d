//go:build !windows

package diag

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"stationdesk/app"
	"stationdesk/devices/sim"
)

func runSim(ctx context.Context, args []string, stdin io.Reader, out *jsonOut, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory for the stable port links (default: a temporary one)")
	baud := fs.Int("baud", 115200, "throttle the simulated lines to this rate (0 = unthrottled)")
	placeID := fs.String("place-id", "", "place this demo rider's ID card at start (see the list command)")
	placeCard := fs.String("place-card", "", "place this demo card number at start")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	d, err := sim.StartDemo(ctx, sim.DemoConfig{Dir: *dir, Baud: *baud})
	if err != nil {
		fmt.Fprintf(stderr, "sim: %v\n", err)
		return ExitDevice
	}
	defer d.Close()
	p := d.Ports()
	out.emit(map[string]string{"event": "sim", "id_reader": p.IDReader, "card_reader": p.CardReader, "scanner": p.Scanner,
		"id_reader_pts": d.ID.Line().PTS(), "card_reader_pts": d.Card.Line().PTS(), "scanner_pts": d.Scanner.Line().PTS()})
	exec := func(line string) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			return
		}
		arg := ""
		if len(fields) > 1 {
			arg = strings.Join(fields[1:], " ")
		}
		var err error
		switch fields[0] {
		case "list":
			for _, it := range d.IDCards() {
				out.emit(map[string]string{"event": "id_card", "id": it.ID, "label": it.Label})
			}
			for _, it := range d.TransitCards() {
				out.emit(map[string]string{"event": "transit_card", "id": it.ID, "label": it.Label}) // fictional demo numbers: the handle to place them
			}
		case "place-id":
			err = d.PlaceIDCard(arg)
		case "lift-id":
			d.LiftIDCard()
		case "place-card":
			err = d.PlaceTransitCard(arg)
		case "lift-card":
			d.LiftTransitCard()
		case "scan":
			err = d.ScanCode(arg)
		case "unplug":
			err = d.Unplug(app.SimDevice(arg))
		case "replug":
			err = d.Replug(app.SimDevice(arg))
		default:
			err = errors.New("commands: list, place-id KEY, lift-id, place-card NUMBER, lift-card, scan CODE, unplug|replug idreader|cardreader|scanner")
		}
		if err != nil {
			fmt.Fprintf(stderr, "sim: %s: %v\n", fields[0], err)
			return
		}
		out.emit(map[string]string{"event": "ok", "command": fields[0]})
	}
	if *placeID != "" {
		exec("place-id " + *placeID)
	}
	if *placeCard != "" {
		exec("place-card " + *placeCard)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		// EOF: keep the simulators up until ctx ends (e.g. run in the
		// background with </dev/null).
	}()
	for {
		select {
		case <-ctx.Done():
			return ExitOK
		case l := <-lines:
			exec(l)
		}
	}
}
