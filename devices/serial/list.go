package serial

// PortInfo describes a candidate serial port. Everything but Path may be
// empty when the system does not say.
type PortInfo struct {
	Path         string `json:"path"`                   // what to pass to Open: the by-id name when there is one
	Device       string `json:"device"`                 // the kernel node, e.g. /dev/ttyUSB0 or COM3
	ByID         string `json:"by_id,omitempty"`        // /dev/serial/by-id/... name, stable across replugs
	Driver       string `json:"driver,omitempty"`       // kernel driver, e.g. ftdi_sio, ch341-uart, cdc_acm
	VendorID     string `json:"vendor_id,omitempty"`    // USB idVendor, hex
	ProductID    string `json:"product_id,omitempty"`   // USB idProduct, hex
	Manufacturer string `json:"manufacturer,omitempty"` // USB manufacturer string
	Product      string `json:"product,omitempty"`      // USB product string
	Serial       string `json:"serial,omitempty"`       // USB serial number string
}
