//go:build linux

package serial

import (
	"os"
	"path/filepath"
	"testing"
)

// TestListIn builds a fake /dev and /sys: one FTDI adapter with a by-id
// name and one CDC-ACM scanner without.
func TestListIn(t *testing.T) {
	root := t.TempDir()
	dev, sys := filepath.Join(root, "dev"), filepath.Join(root, "sys")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) { must(os.MkdirAll(filepath.Dir(p), 0o755)); must(os.WriteFile(p, []byte(s), 0o644)) }
	write(filepath.Join(dev, "ttyUSB0"), "")
	write(filepath.Join(dev, "ttyACM0"), "")
	must(os.MkdirAll(filepath.Join(dev, "serial", "by-id"), 0o755))
	must(os.Symlink("../../ttyUSB0", filepath.Join(dev, "serial", "by-id", "usb-FTDI_FT232R_A1B2-if00-port0")))
	usb := filepath.Join(sys, "devices", "usb1", "1-1")
	iface := filepath.Join(usb, "1-1:1.0", "ttyUSB0")
	write(filepath.Join(usb, "idVendor"), "0403\n")
	write(filepath.Join(usb, "idProduct"), "6001\n")
	write(filepath.Join(usb, "manufacturer"), "FTDI\n")
	write(filepath.Join(usb, "product"), "FT232R USB UART\n")
	write(filepath.Join(usb, "serial"), "A1B2\n")
	must(os.MkdirAll(filepath.Join(sys, "bus", "usb-serial", "drivers", "ftdi_sio"), 0o755))
	must(os.MkdirAll(iface, 0o755))
	must(os.Symlink(filepath.Join(sys, "bus", "usb-serial", "drivers", "ftdi_sio"), filepath.Join(iface, "driver")))
	must(os.MkdirAll(filepath.Join(sys, "class", "tty", "ttyUSB0"), 0o755))
	must(os.Symlink(iface, filepath.Join(sys, "class", "tty", "ttyUSB0", "device")))

	got := listIn(dev, sys)
	if len(got) != 2 {
		t.Fatalf("got %d ports: %+v", len(got), got)
	}
	acm, usb0 := got[0], got[1]
	if acm.Device != filepath.Join(dev, "ttyACM0") || acm.Path != acm.Device || acm.ByID != "" {
		t.Errorf("ACM entry %+v", acm)
	}
	want := PortInfo{
		Path: filepath.Join(dev, "serial", "by-id", "usb-FTDI_FT232R_A1B2-if00-port0"), Device: filepath.Join(dev, "ttyUSB0"),
		ByID: filepath.Join(dev, "serial", "by-id", "usb-FTDI_FT232R_A1B2-if00-port0"), Driver: "ftdi_sio",
		VendorID: "0403", ProductID: "6001", Manufacturer: "FTDI", Product: "FT232R USB UART", Serial: "A1B2",
	}
	if usb0 != want {
		t.Errorf("USB entry\n got %+v\nwant %+v", usb0, want)
	}
}
