//go:build linux

package serial

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// List returns candidate serial ports: every /dev/serial/by-id link, and
// every /dev/ttyUSB* and /dev/ttyACM* node (merged with its by-id name when
// it has one), with the driver and USB descriptors read from sysfs. It
// never fails; a machine without serial devices gets an empty list.
func List() []PortInfo { return listIn("/dev", "/sys") }

func listIn(dev, sys string) []PortInfo {
	byDevice := map[string]*PortInfo{}
	var order []string
	add := func(device string) *PortInfo {
		if pi, ok := byDevice[device]; ok {
			return pi
		}
		pi := &PortInfo{Path: device, Device: device}
		byDevice[device] = pi
		order = append(order, device)
		return pi
	}
	byID := filepath.Join(dev, "serial", "by-id")
	if ents, err := os.ReadDir(byID); err == nil {
		for _, e := range ents {
			link := filepath.Join(byID, e.Name())
			target, err := filepath.EvalSymlinks(link)
			if err != nil {
				continue
			}
			pi := add(target)
			pi.ByID, pi.Path = link, link
		}
	}
	for _, pat := range []string{"ttyUSB*", "ttyACM*"} {
		m, _ := filepath.Glob(filepath.Join(dev, pat))
		for _, d := range m {
			add(d)
		}
	}
	out := make([]PortInfo, 0, len(order))
	for _, d := range order {
		pi := byDevice[d]
		fillSysfs(pi, sys)
		out = append(out, *pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out
}

// fillSysfs reads /sys/class/tty/<name>/device/driver and walks up from the
// interface to the USB device for its descriptors.
func fillSysfs(pi *PortInfo, sys string) {
	name := filepath.Base(pi.Device)
	devDir := filepath.Join(sys, "class", "tty", name, "device")
	if drv, err := filepath.EvalSymlinks(filepath.Join(devDir, "driver")); err == nil {
		pi.Driver = filepath.Base(drv)
	}
	dir, err := filepath.EvalSymlinks(devDir)
	if err != nil {
		return
	}
	for i := 0; i < 4 && dir != "/" && dir != "."; i++ {
		if v := readAttr(dir, "idVendor"); v != "" {
			pi.VendorID = v
			pi.ProductID = readAttr(dir, "idProduct")
			pi.Manufacturer = readAttr(dir, "manufacturer")
			pi.Product = readAttr(dir, "product")
			pi.Serial = readAttr(dir, "serial")
			return
		}
		dir = filepath.Dir(dir)
	}
}

func readAttr(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || len(b) > 256 {
		return ""
	}
	return strings.TrimSpace(string(b))
}
