package app

import "context"

// DeviceKind names one of the terminal's serial devices on the device
// settings screen. The values match the status-bar components.
type DeviceKind string

// The serial devices of a station window.
const (
	DeviceIDReader   DeviceKind = "idreader"
	DeviceCardReader DeviceKind = "cardreader"
	DeviceScanner    DeviceKind = "scanner"
)

// DeviceKinds lists the devices in display order.
var DeviceKinds = []DeviceKind{DeviceIDReader, DeviceCardReader, DeviceScanner}

// Component returns the status-bar component that shows the device's state.
func (k DeviceKind) Component() Component {
	switch k {
	case DeviceIDReader:
		return CompIDReader
	case DeviceCardReader:
		return CompCardReader
	case DeviceScanner:
		return CompScanner
	}
	return Component(k)
}

// DevicePort is where one device is attached. An empty Port means the
// device is not installed; Baud 0 takes the device's default.
type DevicePort struct {
	Port string
	Baud int
}

// DeviceSettings is the port and baud rate of every device.
type DeviceSettings struct {
	IDReader   DevicePort
	CardReader DevicePort
	Scanner    DevicePort
}

// Get returns the port of device k (zero for an unknown kind).
func (s DeviceSettings) Get(k DeviceKind) DevicePort {
	switch k {
	case DeviceIDReader:
		return s.IDReader
	case DeviceCardReader:
		return s.CardReader
	case DeviceScanner:
		return s.Scanner
	}
	return DevicePort{}
}

// With returns s with device k set to p (s unchanged for an unknown kind).
func (s DeviceSettings) With(k DeviceKind, p DevicePort) DeviceSettings {
	switch k {
	case DeviceIDReader:
		s.IDReader = p
	case DeviceCardReader:
		s.CardReader = p
	case DeviceScanner:
		s.Scanner = p
	}
	return s
}

// PortInfo is one candidate serial port as the settings screen lists it.
// Description is what discovery learned (driver, USB ids and strings, or
// "simulated …" in demo mode); it never holds personal data. InUseBy names
// the device currently configured on the port ("" when free).
type PortInfo struct {
	Path        string
	Device      string
	Description string
	InUseBy     DeviceKind
}

// DeviceAdmin is what the supervisor's device settings screen drives:
// discover ports, test a port for a device, and switch a device to another
// port or baud rate while the terminal runs. The readers handed to the
// screens (IDReader, CardReader, Scanner) stay valid across Apply.
//
// Probe never disturbs a running driver: for the port a device already
// uses it reports that driver's own answer. Errors are *Error: CodeInvalid
// ("baud", "kind"), CodeNotFound ("port_not_found"), CodeUnavailable
// ("reader_not_responding", "port_busy", "timeout"). Apply audits the change
// with the operator id and persists it; CodeInvalid for a bad baud rate or
// one port given to two devices, CodeUnavailable when the choice cannot be
// saved (the drivers are then left as they were). All methods are safe for
// concurrent use; Probe and Apply may block for seconds and must not run on
// the UI goroutine.
type DeviceAdmin interface {
	Ports() []PortInfo
	Bauds() []int
	Current() DeviceSettings
	Probe(ctx context.Context, kind DeviceKind, port string, baud int) (detail string, err error)
	Apply(ctx context.Context, s DeviceSettings, operator string) error
}
