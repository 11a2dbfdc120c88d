package ui

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

func init() {
	registerScreen(screenDef{id: "devsettings", order: 95, title: "Device settings",
		roles:     []app.Role{app.RoleSupervisor},
		available: func(d Deps) bool { return d.DeviceAdmin != nil },
		build:     (*Desk).buildDevSettings})
}

// devProbeTimeout bounds one "Test" (a reader that never answers).
const devProbeTimeout = 8 * time.Second

// devApplyTimeout bounds one "Apply" (stopping a driver takes well under a
// second; saving the settings file a few milliseconds).
const devApplyTimeout = 15 * time.Second

// devSettingsBuilt lets tests reach the screen they built (nil in
// production).
var devSettingsBuilt func(*devSettingsScreen)

// devSettingsScreen lets a supervisor choose each reader's port and baud
// rate from the discovered ports, test a device ("Test": a status request
// off the UI goroutine, the answer in the banner) and switch the running
// driver live ("Apply"). The readers the other screens hold keep working
// across the switch (app.DeviceAdmin).
type devSettingsScreen struct {
	k      *Desk
	adm    app.DeviceAdmin
	root   fyne.CanvasObject
	result *Banner
	ports  []app.PortInfo
	list   *fyne.Container
	rows   map[app.DeviceKind]*devRow
}

// devRow is one device's controls.
type devRow struct {
	kind    app.DeviceKind
	state   *widget.Label
	current *widget.Label
	port    *widget.Select
	baud    *widget.Select
	test    *widget.Button
	apply   *widget.Button
	paths   []string // aligned with port.Options; "" = not installed
}

func (k *Desk) buildDevSettings() fyne.CanvasObject {
	s := &devSettingsScreen{k: k, adm: k.d.DeviceAdmin, result: NewBanner(), rows: map[app.DeviceKind]*devRow{}}
	intro := widget.NewLabel(T("Choose the serial port and baud rate of each reader, test it, then apply. Apply switches the running reader at once; the choice is saved on this terminal and recorded with your operator number."))
	intro.Wrapping = fyne.TextWrapWord
	s.list = container.NewVBox()
	rescan := widget.NewButtonWithIcon(T("Look for ports again"), theme.ViewRefreshIcon(), func() { k.touch(); s.rescan() })
	parts := []fyne.CanvasObject{intro, s.result}
	for _, kind := range app.DeviceKinds {
		parts = append(parts, s.deviceCard(kind))
	}
	parts = append(parts, widget.NewSeparator(), section(T("Serial ports found"), container.NewVBox(s.list, container.NewHBox(rescan))))
	s.root = container.NewVScroll(container.NewVBox(parts...))
	s.rescan()
	k.repeatWhileShown(time.Second, func() func() { return s.refreshStates })
	if devSettingsBuilt != nil {
		devSettingsBuilt(s)
	}
	return s.root
}

func deviceLabel(kind app.DeviceKind) string {
	switch kind {
	case app.DeviceIDReader:
		return T("ID card reader")
	case app.DeviceCardReader:
		return T("Transit card reader")
	}
	return T("QR scanner")
}

func (s *devSettingsScreen) deviceCard(kind app.DeviceKind) fyne.CanvasObject {
	r := &devRow{kind: kind, state: widget.NewLabel(""), current: widget.NewLabel("")}
	r.state.Wrapping = fyne.TextWrapWord
	r.port = widget.NewSelect(nil, nil)
	r.port.PlaceHolder = T("Choose a port")
	var bauds []string
	for _, b := range s.adm.Bauds() {
		bauds = append(bauds, strconv.Itoa(b))
	}
	r.baud = widget.NewSelect(bauds, nil)
	r.baud.PlaceHolder = T("Baud rate")
	r.test = widget.NewButtonWithIcon(T("Test device"), theme.SearchIcon(), func() { s.test(r) })
	r.apply = widget.NewButtonWithIcon(T("Apply"), theme.ConfirmIcon(), func() { s.applyRow(r) })
	r.apply.Importance = widget.HighImportance
	s.rows[kind] = r
	form := widget.NewForm(
		widget.NewFormItem(T("State"), r.state),
		widget.NewFormItem(T("In use"), r.current),
		widget.NewFormItem(T("Port"), r.port),
		widget.NewFormItem(T("Baud rate"), r.baud),
	)
	return container.NewVBox(widget.NewSeparator(), section(deviceLabel(kind), container.NewVBox(form, container.NewHBox(r.test, r.apply))))
}

// rescan lists the ports off the UI goroutine (discovery reads sysfs) and
// refills the choosers with the current settings selected.
func (s *devSettingsScreen) rescan() {
	async(s.k.d.Background, func() ([]app.PortInfo, error) { return s.adm.Ports(), nil }, func(ports []app.PortInfo, _ error) {
		s.ports = ports
		cur := s.adm.Current()
		s.list.Objects = nil
		if len(ports) == 0 {
			s.list.Add(widget.NewLabel(T("No serial port found. Check that the reader is plugged in, then look again.")))
		}
		for _, p := range ports {
			line := p.Path
			if p.Device != "" && p.Device != p.Path {
				line += "  →  " + p.Device
			}
			l := widget.NewLabel(line + "\n" + portDescription(p.Description) + s.inUse(p))
			l.Wrapping = fyne.TextWrapWord
			s.list.Add(l)
		}
		s.list.Refresh()
		for _, kind := range app.DeviceKinds {
			s.fillRow(s.rows[kind], cur.Get(kind))
		}
		s.refreshStates()
	})
}

func (s *devSettingsScreen) inUse(p app.PortInfo) string {
	if p.InUseBy == "" {
		return ""
	}
	return "\n" + T("in use by the {{.Device}}", map[string]any{"Device": deviceLabel(p.InUseBy)})
}

// fillRow sets a device's choosers to its current port and rate.
func (s *devSettingsScreen) fillRow(r *devRow, cur app.DevicePort) {
	r.paths = []string{""}
	opts := []string{T("(not installed)")}
	sel := 0
	for _, p := range s.ports {
		r.paths = append(r.paths, p.Path)
		// Only the path: a Select is as wide as its text, and the
		// descriptions (long for USB adapters) are listed below.
		opts = append(opts, p.Path)
		if p.Path == cur.Port {
			sel = len(opts) - 1
		}
	}
	if cur.Port != "" && sel == 0 { // configured but not listed (e.g. unplugged)
		r.paths = append(r.paths, cur.Port)
		opts = append(opts, cur.Port+"  —  "+T("configured, not found"))
		sel = len(opts) - 1
	}
	r.port.Options = opts
	r.port.SetSelectedIndex(sel)
	r.baud.SetSelected(strconv.Itoa(cur.Baud))
	if cur.Port == "" {
		r.current.SetText(T("not installed"))
	} else {
		r.current.SetText(fmt.Sprintf("%s @ %d", cur.Port, cur.Baud))
	}
}

// refreshStates shows each device's state from the status board.
func (s *devSettingsScreen) refreshStates() {
	b := s.k.d.Board
	if b == nil {
		return
	}
	for _, kind := range app.DeviceKinds {
		r := s.rows[kind]
		st := b.Get(kind.Component())
		txt := stateName(st.State)
		if d := statusDetail(st, s.k.lang); d != "" {
			txt += " · " + d
		}
		r.state.SetText(txt)
		switch st.State {
		case app.StateReady, app.StateBusy:
			r.state.Importance = widget.SuccessImportance
		case app.StateError, app.StateOffline:
			r.state.Importance = widget.DangerImportance
		case app.StateConnecting, app.StateDegraded:
			r.state.Importance = widget.WarningImportance
		default:
			r.state.Importance = widget.MediumImportance
		}
		r.state.Refresh()
	}
}

// chosen returns the port and rate selected in r.
func (s *devSettingsScreen) chosen(r *devRow) app.DevicePort {
	p := app.DevicePort{}
	if i := r.port.SelectedIndex(); i > 0 && i < len(r.paths) {
		p.Port = r.paths[i]
	}
	p.Baud, _ = strconv.Atoi(r.baud.Selected)
	return p
}

func (s *devSettingsScreen) busy(r *devRow, on bool) {
	for _, b := range []*widget.Button{r.test, r.apply} {
		if on {
			b.Disable()
		} else {
			b.Enable()
		}
	}
}

// test probes the chosen port for the device off the UI goroutine.
func (s *devSettingsScreen) test(r *devRow) {
	s.k.touch()
	p := s.chosen(r)
	if p.Port == "" {
		s.result.Set(ToneWarn, T("Choose a port first."))
		return
	}
	s.busy(r, true)
	s.result.Set(ToneInfo, T("Testing {{.Device}} on {{.Port}}…", map[string]any{"Device": deviceLabel(r.kind), "Port": p.Port}))
	kind := r.kind
	async(s.k.d.Background, func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), devProbeTimeout)
		defer cancel()
		return s.adm.Probe(ctx, kind, p.Port, p.Baud)
	}, func(detail string, err error) {
		s.busy(r, false)
		if err != nil {
			s.result.Set(ToneError, T("{{.Device}} does not answer", map[string]any{"Device": deviceLabel(kind)}), p.Port, s.k.msg(err))
			return
		}
		s.result.Set(ToneOK, T("{{.Device}} answers", map[string]any{"Device": deviceLabel(kind)}), fmt.Sprintf("%s @ %d", p.Port, p.Baud), detail)
	})
}

// applyRow switches the device to the chosen port and rate.
func (s *devSettingsScreen) applyRow(r *devRow) {
	s.k.touch()
	if !s.k.hasRole(app.RoleSupervisor) {
		s.result.Set(ToneError, T("Not allowed"), T("Only a supervisor can change the devices."))
		return
	}
	p := s.chosen(r)
	next := s.adm.Current().With(r.kind, p)
	op := s.k.op.ID
	kind := r.kind
	s.busy(r, true)
	async(s.k.d.Background, func() (struct{}, error) {
		ctx, cancel := context.WithTimeout(context.Background(), devApplyTimeout)
		defer cancel()
		return struct{}{}, s.adm.Apply(ctx, next, op)
	}, func(_ struct{}, err error) {
		s.busy(r, false)
		if err != nil {
			s.result.Set(ToneError, T("Not applied"), s.k.msg(err))
		} else if p.Port == "" {
			s.result.Set(ToneOK, T("Applied"), T("{{.Device}}: not installed", map[string]any{"Device": deviceLabel(kind)}))
		} else {
			s.result.Set(ToneOK, T("Applied"), fmt.Sprintf("%s: %s @ %d", deviceLabel(kind), p.Port, p.Baud), T("The reader reconnects on the new port; its state shows above."))
		}
		s.rescan()
	})
}
