//go:build windows

package serial

import (
	"sort"

	"golang.org/x/sys/windows/registry"
)

// List returns the COM ports Windows lists under
// HKLM\HARDWARE\DEVICEMAP\SERIALCOMM. Driver is the registry value name
// (e.g. \Device\VCP0 for FTDI, \Device\USBSER000 for CDC-ACM).
func List() []PortInfo {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `HARDWARE\DEVICEMAP\SERIALCOMM`, registry.QUERY_VALUE)
	if err != nil {
		return nil
	}
	defer k.Close()
	names, err := k.ReadValueNames(0)
	if err != nil {
		return nil
	}
	var out []PortInfo
	for _, n := range names {
		v, _, err := k.GetStringValue(n)
		if err != nil || v == "" {
			continue
		}
		out = append(out, PortInfo{Path: v, Device: v, Driver: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out
}
