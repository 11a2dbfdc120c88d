package ui

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
	"stationdesk/app/demo"
)

// simPanel is the demo-mode control panel: it places demo ID cards and
// transit cards on the simulated readers (which then answer through the
// real serial drivers), scans codes, unplugs and replugs the devices,
// switches the simulated central off and on, shows the verification codes
// the simulator "sent", and changes a demo rider's health.
type simPanel struct {
	k      *Desk
	sim    app.DeviceSimulator
	result *Banner
}

func (k *Desk) buildSimPanel() fyne.CanvasObject {
	p := &simPanel{k: k, sim: k.d.Simulator, result: NewBanner()}
	title := widget.NewLabelWithStyle(T("Demo simulator"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	intro := widget.NewLabel(T("These controls act on the simulated readers and central. Ctrl+D hides this panel."))
	intro.Wrapping = fyne.TextWrapWord

	// An accordion keeps the drawer short: the readers are open, the rest
	// one click (or Tab + Space) away. Which parts are open survives a
	// rebuild of the frame.
	acc := widget.NewAccordion(
		widget.NewAccordionItem(T("ID card reader"), p.readerSection(app.SimIDReader, p.sim.IDCards(), p.sim.PlaceIDCard, p.sim.LiftIDCard)),
		widget.NewAccordionItem(T("Transit card reader"), p.readerSection(app.SimCardReader, p.sim.TransitCards(), p.sim.PlaceTransitCard, p.sim.LiftTransitCard)),
		widget.NewAccordionItem(T("QR scanner"), p.scannerSection()),
	)
	if k.d.DemoCentral != nil {
		acc.Append(widget.NewAccordionItem(T("Simulated central"), p.centralSection()))
		acc.Append(widget.NewAccordionItem(T("Demo rider health"), p.healthSection()))
	}
	acc.MultiOpen = true
	for i, it := range acc.Items {
		if old := k.simAcc; old != nil && i < len(old.Items) {
			it.Open = old.Items[i].Open
		} else {
			it.Open = i < 2
		}
	}
	k.simAcc = acc
	// Only the accordion scrolls: wrapped text inside a scroll under-reports
	// its height and would cut off the end of the list.
	// The result sits below the controls, so its appearing never moves a
	// control from under the pointer.
	return container.NewBorder(container.NewVBox(title, intro), p.result, nil, nil, container.NewVScroll(acc))
}

// readerSection: a demo item chooser with Place and Lift, and the plug.
func (p *simPanel) readerSection(dev app.SimDevice, items []app.DemoItem, place func(string) error, lift func()) fyne.CanvasObject {
	labels := make([]string, len(items))
	for i, it := range items {
		labels[i] = p.demoLabel(dev, it)
	}
	sel := p.k.newSelect(labels, nil)
	sel.PlaceHolder = T("Choose a demo card")
	placeBtn := p.k.newButton(T("Place on reader"), func() {
		i := sel.SelectedIndex()
		if i < 0 {
			p.result.Set(ToneWarn, T("Choose a demo card first."))
			return
		}
		if err := place(items[i].ID); err != nil {
			p.result.Set(ToneError, T("Could not place the card"), p.k.msg(err))
			return
		}
		p.result.Set(ToneInfo, T("Card placed"), labels[i])
	})
	placeBtn.Importance = widget.HighImportance
	liftBtn := p.k.newButton(T("Lift"), func() {
		lift()
		p.result.Set(ToneInfo, T("Card lifted"))
	})
	return container.NewVBox(
		sel,
		container.NewGridWithColumns(2, placeBtn, liftBtn),
		p.plugCheck(dev),
	)
}

// plugCheck unplugs (unchecked) and replugs (checked) a simulated device;
// the status bar shows the driver noticing and reconnecting.
func (p *simPanel) plugCheck(dev app.SimDevice) fyne.CanvasObject {
	c := p.k.newCheck(T("Plugged in"), nil)
	c.SetChecked(p.sim.Plugged(dev))
	c.OnChanged = func(on bool) {
		p.k.touch()
		var err error
		if on {
			err = p.sim.Replug(dev)
		} else {
			err = p.sim.Unplug(dev)
		}
		if err != nil {
			p.result.Set(ToneError, T("Could not change the device"), p.k.msg(err))
			return
		}
		if on {
			p.result.Set(ToneInfo, T("Device plugged in"))
		} else {
			p.result.Set(ToneWarn, T("Device unplugged"))
		}
	}
	return c
}

func (p *simPanel) scannerSection() fyne.CanvasObject {
	code := p.k.newEntry()
	code.SetPlaceHolder(T("Code to scan"))
	scan := func() {
		if code.Text == "" {
			return
		}
		if err := p.sim.ScanCode(code.Text); err != nil {
			p.result.Set(ToneError, T("Could not scan"), p.k.msg(err))
			return
		}
		p.result.Set(ToneInfo, T("Code scanned"), fmt.Sprintf("%d %s", len([]rune(code.Text)), T("characters")))
	}
	code.OnSubmitted = func(string) { scan() }
	return container.NewVBox(
		container.NewBorder(nil, nil, nil, p.k.newButton(T("Scan"), scan), code),
		p.plugCheck(app.SimScanner),
	)
}

// centralSection switches the simulated central off and on and lists the
// verification codes it "sent" to holders' phones (for proxy upgrades).
func (p *simPanel) centralSection() fyne.CanvasObject {
	dc := p.k.d.DemoCentral
	online := p.k.newCheck(T("Central answers (untick for an outage)"), nil)
	online.SetChecked(dc.Online())
	online.OnChanged = func(on bool) {
		p.k.touch()
		dc.SetOnline(on)
		if on {
			p.result.Set(ToneOK, T("Central is back"), T("Pending items are completed in the background."))
		} else {
			p.result.Set(ToneWarn, T("Central is down"), T("The desk keeps working: upgrades are saved as pending and gates answer from the cache."))
		}
	}
	// Not wrapped: a wrapping label inside a scroll under-reports its
	// height, and the last codes could not be scrolled into view.
	codes := widget.NewLabel("")
	refresh := func() {
		async(p.k.d.Background, func() ([]app.DemoProxyCode, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			return dc.ProxyCodes(ctx)
		}, func(list []app.DemoProxyCode, err error) {
			if err != nil {
				codes.SetText(p.k.msg(err))
				return
			}
			s := ""
			for _, c := range list {
				s += c.Phone + "  →  " + c.Code + "\n"
			}
			codes.SetText(s)
		})
	}
	refresh()
	return container.NewVBox(
		online,
		widget.NewLabel(T("Verification codes sent to holders' phones:")),
		codes,
		p.k.newButton(T("Refresh codes"), refresh),
	)
}

// healthSection changes a demo rider's health code and test age.
func (p *simPanel) healthSection() fyne.CanvasObject {
	riders := demo.Riders()
	labels := make([]string, len(riders))
	for i, r := range riders {
		labels[i] = r.Key + "  " + r.Identity.Name.Masked()
	}
	who := p.k.newSelect(labels, nil)
	who.PlaceHolder = T("Choose a demo rider")
	colours := []app.HealthColor{app.ColorGreen, app.ColorYellow, app.ColorRed, app.ColorNone}
	colourLabels := []string{T("green"), T("yellow"), T("red"), T("no health-kit account")}
	colour := p.k.newSelect(colourLabels, nil)
	colour.SetSelectedIndex(0)
	ages := []time.Duration{6 * time.Hour, 30 * time.Hour, 72 * time.Hour, 0}
	ageLabels := []string{T("test 6 h ago"), T("test 30 h ago"), T("test 72 h ago"), T("no test")}
	age := p.k.newSelect(ageLabels, nil)
	age.SetSelectedIndex(0)
	apply := p.k.newButton(T("Set health"), func() {
		i, c, a := who.SelectedIndex(), colour.SelectedIndex(), age.SelectedIndex()
		if i < 0 {
			p.result.Set(ToneWarn, T("Choose a demo rider first."))
			return
		}
		key := riders[i].Key
		async(p.k.d.Background, func() (struct{}, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			return struct{}{}, p.k.d.DemoCentral.SetRiderHealth(ctx, key, colours[c], ages[a])
		}, func(_ struct{}, err error) {
			if err != nil {
				p.result.Set(ToneError, T("Could not change the rider"), p.k.msg(err))
				return
			}
			p.result.Set(ToneInfo, T("Health changed"), labels[i]+": "+colourLabels[c]+", "+ageLabels[a])
		})
	})
	return container.NewVBox(who, container.NewGridWithColumns(2, colour, age), apply)
}

// demoLabel names a demo item with the case it demonstrates, so the
// presenter knows which card is the green rider's and which the UnionPay
// card: the rider key for ID cards, the card's owner (or kind) for transit
// cards, then the simulator's masked label.
func (p *simPanel) demoLabel(dev app.SimDevice, it app.DemoItem) string {
	switch dev {
	case app.SimIDReader:
		if r, ok := demo.RiderByKey(it.ID); ok {
			return r.Key + " · " + it.Label
		}
	case app.SimCardReader:
		if it.ID == demo.NewTokenItem {
			return T("New blank single-journey token")
		}
		for _, c := range demo.Cards() {
			if c.Number == it.ID {
				l := cardWords(c.Form, c.Kind) + " " + c.MaskedNumber()
				if owner := demoCardOwner(c); owner != "" {
					l = owner + " · " + l
				}
				return l
			}
		}
	}
	return it.Label
}
