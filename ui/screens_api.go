package ui

// ScreenIDs lists the screens the operator logged in may open, in the
// order of the navigation (none when nobody is logged in). Call it on the
// UI goroutine. Tests and tools walk the screens with it.
func (k *Desk) ScreenIDs() []string {
	var out []string
	for _, s := range k.visibleScreens() {
		out = append(out, s.id)
	}
	return out
}

// ShowScreen opens screen id as its navigation button would, on the UI
// goroutine; an id the operator may not open is ignored.
func (k *Desk) ShowScreen(id string) {
	for _, s := range k.visibleScreens() {
		if s.id == id {
			k.showScreen(id)
			return
		}
	}
}
