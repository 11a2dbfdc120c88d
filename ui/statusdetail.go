package ui

import (
	"time"

	"stationdesk/app"
)

// statusDetail is a status's detail in the clerk's language l: the user
// message of its error, the translation of an adapter's phrase (with its
// fields filled, durations as ages), or a value such as a port or an
// address as it is.
func statusDetail(s app.Status, l app.Lang) string {
	if s.Err != nil {
		return app.UserMessage(s.Err, l)
	}
	args := map[string]any{}
	for k, v := range s.Args {
		if d, ok := v.(time.Duration); ok {
			v = ageText(d)
		}
		args[k] = v
	}
	// The phrases the adapters set (devices, central, gate cache); each is
	// a literal here so the translation test sees it.
	switch s.Detail {
	case "card present":
		return T("card present")
	case "online":
		return T("online")
	case "offline":
		return T("offline")
	case "retrying":
		return T("retrying")
	case "never synced":
		return T("never synced")
	case "version {{.Version}}, {{.Age}} old":
		return T("version {{.Version}}, {{.Age}} old", args)
	case "port not found":
		return T("port not found")
	case "disconnected":
		return T("disconnected")
	case "reader not responding":
		return T("reader not responding")
	case "noise on the line — check baud rate":
		return T("noise on the line — check baud rate")
	}
	return s.Detail
}

// portDescription is a serial port's description in the interface
// language: the phrases discovery and the demo set are translated, the
// facts read from a USB adapter (maker, product, ids, driver) stay as read.
func portDescription(d string) string {
	switch d {
	case "simulated ID-card reader (pty)":
		return T("simulated ID-card reader (pty)")
	case "simulated transit-card reader (pty)":
		return T("simulated transit-card reader (pty)")
	case "simulated QR scanner (pty)":
		return T("simulated QR scanner (pty)")
	case "no USB details":
		return T("no USB details")
	case "configured, not found by discovery":
		return T("configured, not found by discovery")
	}
	return d
}

// progressDetail is a gate-cache sync's detail in the clerk's language l:
// the user message of its error, or the sync client's phrase translated.
func progressDetail(p app.SyncProgress, l app.Lang) string {
	if p.Err != nil {
		return app.UserMessage(p.Err, l)
	}
	switch p.Detail {
	case "up to date":
		return T("up to date")
	case "building new cache file":
		return T("building new cache file")
	case "repairing buckets":
		return T("repairing buckets")
	}
	return p.Detail
}
