package config

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDefaultsFillOnlyWhatIsEmpty(t *testing.T) {
	var c Config
	c.Defaults()
	want := Config{Language: "zh", TextSize: "large", IdleLock: "5m", StationID: "BJ-0000", TerminalID: "T01",
		Devices: Devices{IDReaderBaud: 115200, CardReaderBaud: 115200, ScannerBaud: 9600},
		Central: Central{Timeout: "4s"}, Gate: Gate{Mode: "test"}}
	if c != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}

	set := Config{Language: "en", TextSize: "normal", IdleLock: "90s", StationID: "BJ-0101", TerminalID: "T07",
		Devices: Devices{IDReaderBaud: 9600, CardReaderBaud: 57600, ScannerBaud: 115200},
		Central: Central{Timeout: "10s"}, Gate: Gate{Mode: "enforce"}}
	got := set
	got.Defaults()
	if got != set {
		t.Errorf("defaults overwrote a set value:\n got %+v\nwant %+v", got, set)
	}
	if got.IdleLockDuration() != 90*time.Second || got.CentralTimeout() != 10*time.Second {
		t.Errorf("durations %v %v", got.IdleLockDuration(), got.CentralTimeout())
	}
}

// TestValidateNamesTheKey: each bad value is refused with the key as the
// file spells it, so the technician knows which line to fix.
func TestValidateNamesTheKey(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"Language", func(c *Config) { c.Language = "fr" }, `language must be zh or en, not "fr"`},
		{"TextSize", func(c *Config) { c.TextSize = "huge" }, `text_size must be normal, large or larger, not "huge"`},
		{"IdleLockNotADuration", func(c *Config) { c.IdleLock = "five" }, `idle_lock must be a duration`},
		{"IdleLockZero", func(c *Config) { c.IdleLock = "0s" }, `idle_lock must be a duration`},
		{"IdleLockNegative", func(c *Config) { c.IdleLock = "-1m" }, `idle_lock must be a duration`},
		{"CentralTimeout", func(c *Config) { c.Central.Timeout = "4" }, `central.timeout must be a duration`},
		{"GateMode", func(c *Config) { c.Gate.Mode = "strict" }, `gate.mode must be off, test or enforce, not "strict"`},
		{"GateConnsPerIP", func(c *Config) { c.Gate.MaxConnsPerIP = -1 }, `gate.max_conns_per_ip must be 0 (default 16) or more, not -1`},
		{"GateTLSHalf", func(c *Config) { c.Gate.TLSCert = "c.pem" }, `gate.tls_cert and gate.tls_key go together`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			c.Defaults()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDefaultDataDirKeepsDemoApart(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("XDG_DATA_HOME is not used on Windows")
	}
	base := t.TempDir()
	t.Setenv("XDG_DATA_HOME", base)
	real, err := DefaultDataDir(false)
	if err != nil {
		t.Fatal(err)
	}
	demo, err := DefaultDataDir(true)
	if err != nil {
		t.Fatal(err)
	}
	if real != filepath.Join(base, "stationdesk") || demo != filepath.Join(base, "stationdesk-demo") {
		t.Errorf("data folders %q (real) and %q (demo)", real, demo)
	}

	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", base)
	real, err = DefaultDataDir(false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(real, base) || !strings.HasSuffix(real, "stationdesk") {
		t.Errorf("without XDG_DATA_HOME: %q, want under %q", real, base)
	}
}
