package sales

import (
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"stationdesk/app"
)

// ParseFares reads a fare table in TOML (see app/demo/fares_demo.toml)
// and validates it (app.NewFareTable). Unknown keys are an error, so a
// misspelt setting is not silently ignored. Errors are CodeInvalid
// "fare_table".
func ParseFares(data []byte) (*app.FareTable, error) {
	var cfg app.FareConfig
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return nil, app.WrapError(err, app.CodeInvalid, "fare_table", "票价表文件格式错误："+err.Error(), "The fare table file is not valid TOML: "+err.Error())
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return nil, app.NewError(app.CodeInvalid, "fare_table", "票价表含未知设置："+strings.Join(keys, ", "), "Unknown settings in the fare table: "+strings.Join(keys, ", "))
	}
	return app.NewFareTable(cfg)
}

// LoadFares reads and parses the fare table file at path.
func LoadFares(path string) (*app.FareTable, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, app.WrapError(err, app.CodeInvalid, "fare_table", "无法读取票价表文件："+path, "Cannot read the fare table file: "+path)
	}
	return ParseFares(b)
}
