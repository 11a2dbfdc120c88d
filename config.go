// Reading the configuration: the TOML file (decoded here, where the TOML
// library is allowed; the schema, defaults and validation are app/config)
// and the desk's flags, which win over the file.

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/BurntSushi/toml"

	"stationdesk/app/config"
)

// loadConfig reads path (TOML). Unknown keys are an error: a misspelt key
// silently ignored is how a station ends up on the wrong port.
func loadConfig(path string) (config.Config, error) {
	var c config.Config
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return c, fmt.Errorf("read config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return c, fmt.Errorf("config %s: unknown setting %q", path, und[0].String())
	}
	return c, nil
}

// errDataWithoutConfig is the usage error for --data alone, in both
// languages (it is printed before a language is chosen).
var errDataWithoutConfig = errors.New(`--data DIR needs --config FILE (a production desk) or --demo (demo mode in that folder); StationDesk never starts demo mode on a folder by itself.
stationdesk: --data 目录 需要同时给出 --config 配置文件（正式站务台）或 --demo（在该目录运行演示）；站务台不会自行在某个目录上启动演示模式。`)

// deskFlags are the flags of the desk itself.
type deskFlags struct {
	config, data, lang, textSize string
	demo                         bool
}

func parseDeskFlags(args []string, stderr io.Writer) (deskFlags, config.Config, error) {
	var f deskFlags
	fs := flag.NewFlagSet("stationdesk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&f.config, "config", "", "configuration file (TOML) of a production desk; without it and without --data StationDesk runs the demo in its own folder")
	fs.StringVar(&f.data, "data", "", "data folder (overrides data_dir); needs --config, or --demo for a demo in that folder")
	fs.BoolVar(&f.demo, "demo", false, "demo mode: simulated readers, central simulator, demo riders (default when neither --config nor --data is given)")
	fs.StringVar(&f.lang, "lang", "", "interface language: zh or en")
	fs.StringVar(&f.textSize, "text-size", "", "text size: normal, large or larger")
	if err := fs.Parse(args); err != nil {
		return f, config.Config{}, err
	}
	if fs.NArg() > 0 {
		return f, config.Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// A data folder named without a configuration is not a request for
	// demo mode: it may hold a station's records.
	if f.data != "" && f.config == "" && !f.demo {
		return f, config.Config{}, errDataWithoutConfig
	}
	var c config.Config
	if f.config != "" {
		var err error
		if c, err = loadConfig(f.config); err != nil {
			return f, c, err
		}
	}
	c.Demo = f.demo || f.config == ""
	if f.data != "" {
		c.DataDir = f.data
	}
	if f.lang != "" {
		c.Language = f.lang
	}
	if f.textSize != "" {
		c.TextSize = f.textSize
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		return f, c, err
	}
	if c.DataDir == "" {
		d, err := config.DefaultDataDir(c.Demo)
		if err != nil {
			return f, c, err
		}
		c.DataDir = d
	}
	return f, c, nil
}
