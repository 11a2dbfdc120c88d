package app

import "testing"

// TestPassReasonFitsTheCodeShown: a visitor's pass is recorded as a
// visitor's (no Beijing health code), never as a green code's, and a
// refusal cannot carry either pass reason.
func TestPassReasonFitsTheCodeShown(t *testing.T) {
	in := NATAssessment{State: NATInside}
	for _, tc := range []struct {
		name   string
		in     ManualCheckInput
		reason string // "" OK
	}{
		{"GreenPass", ManualCheckInput{ShownColor: ColorGreen, Decision: ManualPass, Reason: "valid_certificate"}, ""},
		{"VisitorPass", ManualCheckInput{ShownColor: ColorNone, Decision: ManualPass, Reason: "visitor_negative_test"}, ""},
		{"VisitorWithGreenReason", ManualCheckInput{ShownColor: ColorNone, Decision: ManualPass, Reason: "valid_certificate"}, "reason"},
		{"GreenWithVisitorReason", ManualCheckInput{ShownColor: ColorGreen, Decision: ManualPass, Reason: "visitor_negative_test"}, "reason"},
		{"RefuseWithPassReason", ManualCheckInput{ShownColor: ColorNone, Decision: ManualRefuse, Reason: "visitor_negative_test"}, "reason"},
		{"NoColour", ManualCheckInput{Decision: ManualPass, Reason: "valid_certificate"}, "shown_color"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateManual(tc.in, in)
			if got := ErrorReason(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
		})
	}
	if PassReason(ColorRed) != "" || PassReason(ColorYellow) != "" {
		t.Fatal("a red or yellow code has a pass reason")
	}
}
