// Package config is the desk's configuration: the schema of the TOML file
// (assets/config/stationdesk.example.toml is the commented example), its
// defaults and its validation. It is standard library only; the
// composition root decodes the file (package main, where the TOML library
// is allowed) and then calls Defaults and Validate.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Config is the configuration file. Empty fields take the defaults of
// Defaults; the toml tags are the file's key names.
type Config struct {
	DataDir    string  `toml:"data_dir"`
	StationID  string  `toml:"station_id"`
	TerminalID string  `toml:"terminal_id"`
	Language   string  `toml:"language"`
	TextSize   string  `toml:"text_size"`
	IdleLock   string  `toml:"idle_lock"`
	FareTable  string  `toml:"fare_table"`
	Devices    Devices `toml:"devices"`
	Central    Central `toml:"central"`
	Gate       Gate    `toml:"gate"`

	// Demo is set by the command line (--demo, or no --config), never by
	// the file: a production file cannot switch a desk into demo mode.
	Demo bool `toml:"-"`
}

// Devices are the serial ports of the three readers.
type Devices struct {
	IDReader       string `toml:"id_reader"`
	IDReaderBaud   int    `toml:"id_reader_baud"`
	CardReader     string `toml:"card_reader"`
	CardReaderBaud int    `toml:"card_reader_baud"`
	Scanner        string `toml:"scanner"`
	ScannerBaud    int    `toml:"scanner_baud"`
}

// Central is how the desk reaches the central backend. An empty URL means
// no central: upgrades and the ticket window say "not configured".
type Central struct {
	URL        string `toml:"url"`
	TokenFile  string `toml:"token_file"`
	CAFile     string `toml:"ca_file"`
	ClientCert string `toml:"client_cert"`
	ClientKey  string `toml:"client_key"`
	Timeout    string `toml:"timeout"`
}

// Gate is the embedded gate verify service. An empty Listen means it does
// not start.
type Gate struct {
	Listen string `toml:"listen"`
	// Mode is followed at each start until a supervisor sets the mode
	// (Gates screen or `stationdesk gates mode`); then the gate registry's
	// mode stands (docs/gate-contract.md "Mode").
	Mode string `toml:"mode"`
	// StatusListen, when set, serves /healthz and /metrics there only.
	StatusListen string `toml:"status_listen"`
	// MaxConnsPerIP bounds one source address's connections (0: 16).
	MaxConnsPerIP int `toml:"max_conns_per_ip"`
	// TLSCert and TLSKey (PEM) serve the gate listener over TLS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// CacheOnDisk keeps the gate cache's card and person tables in the
	// file only, for a PC that cannot spare the memory they take (about
	// 800 MiB for a city of 30 M cards); answers then cost more CPU.
	CacheOnDisk bool `toml:"cache_on_disk"`
}

// Defaults fills what the file left empty: Chinese, large text, a five
// minute idle lock, the readers' usual bauds, a 4 s central timeout and
// the gate in test mode.
func (c *Config) Defaults() {
	if c.Language == "" {
		c.Language = "zh"
	}
	if c.TextSize == "" {
		c.TextSize = "large"
	}
	if c.IdleLock == "" {
		c.IdleLock = "5m"
	}
	if c.StationID == "" {
		c.StationID = "BJ-0000"
	}
	if c.TerminalID == "" {
		c.TerminalID = "T01"
	}
	if c.Devices.IDReaderBaud == 0 {
		c.Devices.IDReaderBaud = 115200
	}
	if c.Devices.CardReaderBaud == 0 {
		c.Devices.CardReaderBaud = 115200
	}
	if c.Devices.ScannerBaud == 0 {
		c.Devices.ScannerBaud = 9600
	}
	if c.Central.Timeout == "" {
		c.Central.Timeout = "4s"
	}
	if c.Gate.Mode == "" {
		c.Gate.Mode = "test"
	}
}

// Validate reports the first setting that is out of range, naming the key
// as it is written in the file. Call it after Defaults.
func (c *Config) Validate() error {
	if c.Language != "zh" && c.Language != "en" {
		return fmt.Errorf("language must be zh or en, not %q", c.Language)
	}
	switch c.TextSize {
	case "normal", "large", "larger":
	default:
		return fmt.Errorf("text_size must be normal, large or larger, not %q", c.TextSize)
	}
	for _, d := range []struct{ name, v string }{{"idle_lock", c.IdleLock}, {"central.timeout", c.Central.Timeout}} {
		if v, err := time.ParseDuration(d.v); err != nil || v <= 0 {
			return fmt.Errorf("%s must be a duration like 5m or 4s, not %q", d.name, d.v)
		}
	}
	switch c.Gate.Mode {
	case "off", "test", "enforce":
	default:
		return fmt.Errorf("gate.mode must be off, test or enforce, not %q", c.Gate.Mode)
	}
	if c.Gate.MaxConnsPerIP < 0 {
		return fmt.Errorf("gate.max_conns_per_ip must be 0 (default 16) or more, not %d", c.Gate.MaxConnsPerIP)
	}
	if (c.Gate.TLSCert == "") != (c.Gate.TLSKey == "") {
		return fmt.Errorf("gate.tls_cert and gate.tls_key go together")
	}
	return nil
}

// IdleLockDuration is IdleLock parsed (valid after Validate).
func (c *Config) IdleLockDuration() time.Duration {
	d, _ := time.ParseDuration(c.IdleLock)
	return d
}

// CentralTimeout is Central.Timeout parsed (valid after Validate).
func (c *Config) CentralTimeout() time.Duration {
	d, _ := time.ParseDuration(c.Central.Timeout)
	return d
}

// DefaultDataDir is the user's data folder for StationDesk when neither
// data_dir nor --data says one. Demo mode uses a folder of its own so demo
// riders never mix with real records.
func DefaultDataDir(demo bool) (string, error) {
	name := "stationdesk"
	if demo {
		name = "stationdesk-demo"
	}
	if runtime.GOOS == "windows" {
		if d := os.Getenv("LocalAppData"); d != "" {
			sub := "data"
			if demo {
				sub = "demo"
			}
			return filepath.Join(d, "StationDesk", sub), nil
		}
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, name), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for the data folder; pass --data DIR: %w", err)
	}
	if runtime.GOOS == "darwin" {
		return filepath.Join(home, "Library", "Application Support", name), nil
	}
	return filepath.Join(home, ".local", "share", name), nil
}
