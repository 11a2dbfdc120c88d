package serial

import (
	"context"
	"errors"

	"stationdesk/app"
)

// DriveConfig is what Drive needs from a device driver.
type DriveConfig struct {
	// Keep opens and reopens the port. An empty Path means the device is
	// not installed here: Drive reports StateNotConfigured and waits.
	Keep KeepConfig
	// Status reports the device's state (to the app.StatusBoard); nil
	// reports nothing.
	Status func(s app.State, detail string)
	// ReadyOnOpen reports Ready as soon as the port opens (a scanner has no
	// handshake); otherwise the port opening reports Connecting and the
	// session reports Ready once the device has answered.
	ReadyOnOpen bool
	// Down is called when the port is lost and once more when Drive ends:
	// the driver fails every waiting caller there, so a read in progress
	// never survives a disconnect (docs/devices.md "Serial ports"). It must not block.
	Down func()
}

// Drive runs a driver's session on its port until ctx ends: the three
// reader drivers share this life cycle (not configured / connecting /
// ready / error with the reason, reconnecting with Keep's backoff).
func Drive(ctx context.Context, cfg DriveConfig, s Session) {
	status := cfg.Status
	if status == nil {
		status = func(app.State, string) {}
	}
	down := cfg.Down
	if down == nil {
		down = func() {}
	}
	path := cfg.Keep.Path
	if path == "" {
		status(app.StateNotConfigured, "")
		<-ctx.Done()
		return
	}
	status(app.StateConnecting, path)
	kc := cfg.Keep
	kc.OnState = func(st LinkState, err error) {
		switch st {
		case LinkUp:
			if cfg.ReadyOnOpen {
				status(app.StateReady, path)
			} else {
				status(app.StateConnecting, path)
			}
		case LinkDown:
			down()
			if errors.Is(err, ErrNotFound) {
				status(app.StateError, "port not found")
			} else if err != nil {
				status(app.StateError, "disconnected")
			}
		}
	}
	_ = Keep(ctx, kc, s)
	down()
}
