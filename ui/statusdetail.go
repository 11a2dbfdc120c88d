package ui

import (
	"time"

	"stationdesk/app"
)

// phrase marks s as an interface string for the translation test (which
// reads T and phrase calls) and returns it unchanged, for tables of
// phrases translated later with T.
func phrase(s string) string { return s }

// adapterPhrases are the English phrases the adapters put in statuses,
// port descriptions and sync progress (devices, central, gate cache,
// discovery, the demo); anything else in a detail is a value (a port, an
// address) and is shown as it is.
var adapterPhrases = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range []string{
		phrase("card present"),
		phrase("online"),
		phrase("offline"),
		phrase("retrying"),
		phrase("never synced"),
		phrase("version {{.Version}}, {{.Age}} old"),
		phrase("port not found"),
		phrase("disconnected"),
		phrase("reader not responding"),
		phrase("noise on the line — check baud rate"),
		phrase("simulated ID-card reader (pty)"),
		phrase("simulated transit-card reader (pty)"),
		phrase("simulated QR scanner (pty)"),
		phrase("no USB details"),
		phrase("configured, not found by discovery"),
		phrase("up to date"),
		phrase("building new cache file"),
		phrase("repairing buckets"),
	} {
		m[p] = true
	}
	return m
}()

// adapterText is d in the interface language when it is an adapter's
// phrase (its fields filled from args), else d as it is.
func adapterText(d string, args map[string]any) string {
	if !adapterPhrases[d] {
		return d
	}
	if len(args) == 0 {
		return T(d)
	}
	return T(d, args)
}

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
	return adapterText(s.Detail, args)
}

// portDescription is a serial port's description in the interface
// language: the phrases discovery and the demo set are translated, the
// facts read from a USB adapter (maker, product, ids, driver) stay as read.
func portDescription(d string) string { return adapterText(d, nil) }

// progressDetail is a gate-cache sync's detail in the clerk's language l:
// the user message of its error, or the sync client's phrase translated.
func progressDetail(p app.SyncProgress, l app.Lang) string {
	if p.Err != nil {
		return app.UserMessage(p.Err, l)
	}
	return adapterText(p.Detail, nil)
}
