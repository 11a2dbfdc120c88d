package centralsim

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"stationdesk/app"
	"stationdesk/offline/sim/syncpub"
)

// DemoQRTTL is how long a demo ride code is valid, as a ride-code app
// issues them (syncpub's default).
const DemoQRTTL = 60 * time.Second

var errNoRider = app.NewError(app.CodeNotFound, "rider", "没有此演示乘客。", "No such demo rider.")

// PersonKey returns the central person key of demo rider riderKey: the
// persons row id, which is what the sync feed (SyncSource) publishes as
// Person and what ride codes carry. It is an opaque number, not personal
// data. CodeNotFound for an unknown key.
func (s *Server) PersonKey(ctx context.Context, riderKey string) (uint64, error) {
	var id int64
	err := s.db.Read().QueryRowContext(ctx, `SELECT id FROM persons WHERE demo_key = ?`, riderKey).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errNoRider
	}
	if err != nil {
		return 0, err
	}
	return uint64(id), nil
}

// RideQRFunc returns the ride-code issuer of the demo: it signs a code for
// demo rider riderKey issued at `at` and valid for DemoQRTTL, with the
// issuer key in keys (syncpub.DemoKeys() in demo mode — the key the
// manifest lists, so the station accepts it). The simulated gate uses it
// (an `at` long enough ago gives an expired code).
func (s *Server) RideQRFunc(keys syncpub.Keys) func(riderKey string, at time.Time) (string, error) {
	return func(riderKey string, at time.Time) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p, err := s.PersonKey(ctx, riderKey)
		if err != nil {
			return "", err
		}
		return app.SignRideQR(keys.QRPrivate, keys.QRIssuer, p, at, DemoQRTTL), nil
	}
}
