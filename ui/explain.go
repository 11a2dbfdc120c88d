package ui

import (
	"strings"

	"stationdesk/app"
)

// kindLabel names a card kind for the clerk, in the interface language.
func kindLabel(k app.CardKind) string {
	switch k {
	case app.CardOrdinary:
		return T("Ordinary Yikatong card")
	case app.CardStudent:
		return T("Student card")
	case app.CardSpecialElder:
		return T("Senior/disability card")
	case app.CardCivilAffairs:
		return T("Civil-affairs card")
	case app.CardDisability:
		return T("Disability-service card")
	case app.CardCommemorative:
		return T("Commemorative ticket")
	case app.CardUnion:
		return T("Transport-union card (other city)")
	case app.CardUnionPay:
		return T("UnionPay card")
	case app.CardDCEPWearable:
		return T("Digital-RMB wearable")
	case app.CardAirRail:
		return T("Air-rail combined ticket")
	case app.CardAlipayTicket:
		return T("Alipay electronic single-journey ticket")
	case app.CardSingleJourney:
		return T("Single-journey ticket")
	}
	return T("Card kind not known yet")
}

// formLabel names a card form.
func formLabel(f app.CardForm) string {
	if f == app.FormNFC {
		return T("Phone NFC card")
	}
	return T("Physical card")
}

// cardWords names a card in words by its form and kind, "Phone NFC card ·
// Ordinary Yikatong card": a rider's physical and phone cards often end in
// the same four digits, and the masked number alone cannot tell them apart.
func cardWords(f app.CardForm, k app.CardKind) string {
	s := formLabel(f)
	if k != "" && k != app.CardUnknown {
		s += " · " + kindLabel(k)
	}
	return s
}

// bindingName is one bound card as the desk may name it: form, masked
// number (last four digits only, docs/storage-privacy.md), kind and the
// date it was bound — "Physical card ******0001 · Ordinary Yikatong card ·
// bound 2026-11-03".
func bindingName(b app.Binding) string {
	s := formLabel(b.Form) + "  " + b.CardMasked
	if b.Kind != "" && b.Kind != app.CardUnknown {
		s += " · " + kindLabel(b.Kind)
	}
	if !b.BoundAt.IsZero() {
		s += " · " + T("bound {{.Date}}", map[string]any{"Date": b.BoundAt.In(app.ChinaTime()).Format("2006-01-02")})
	}
	return s
}

// bindingLine describes one bound card for a list: bindingName, then how it
// was bound.
func bindingLine(b app.Binding) string {
	s := bindingName(b)
	if b.Auto {
		s += " · " + T("upgraded automatically")
	}
	if b.ViaProxy {
		s += " · " + T("by a helper")
	}
	return s
}

// sameTail returns the other bindings in bs whose masked number is b's:
// the masked numbers cannot tell these cards apart.
func sameTail(bs []app.Binding, b app.Binding) []app.Binding {
	var out []app.Binding
	for _, o := range bs {
		if o.CardMasked == b.CardMasked && (o.Form != b.Form || o.Kind != b.Kind || !o.BoundAt.Equal(b.BoundAt)) {
			out = append(out, o)
		}
	}
	return out
}

// bilingual is a result heading in both languages: the rider may read one
// and the clerk the other. The interface language comes first.
type bilingual struct{ zh, en string }

func (b bilingual) in(l app.Lang) string {
	if l == app.LangEN {
		return b.en + "  ·  " + b.zh
	}
	return b.zh + "  ·  " + b.en
}

// Result headings (not T keys: they always show both languages).
var (
	headBound     = bilingual{"升级成功", "Upgraded"}
	headAlready   = bilingual{"已绑定，无需重复办理", "Already bound"}
	headAuto      = bilingual{"已自动升级，无需办理", "Already upgraded automatically"}
	headPending   = bilingual{"已保存，联网后自动完成", "Saved — will complete when the link returns"}
	headRefused   = bilingual{"未能办理", "Not done"}
	headUnbound   = bilingual{"已解绑", "Unbound"}
	headNoUpgrade = bilingual{"此卡不能升级", "This card cannot be upgraded"}
)

// explainLines turns an explanation into banner lines in both languages,
// the interface language first: what it means, then the next step.
func explainLines(e app.Explanation, l app.Lang) []string {
	zh, en := e.ZH, e.EN
	if e.NextZH != "" {
		zh += "\n下一步：" + e.NextZH
	}
	if e.NextEN != "" {
		en += "\nNext: " + e.NextEN
	}
	zh, en = strings.TrimSpace(zh), strings.TrimSpace(en)
	if l == app.LangEN {
		return []string{en, zh}
	}
	return []string{zh, en}
}

// outcomeBanner fills b with the result of an upgrade-desk action: green
// when bound (or already), amber when saved as pending, blue for a special
// card, red when refused with the reason and the next step. err is a desk
// failure (audit or ledger write); its safe message is added, and with no
// outcome at all the banner is red.
func (k *Desk) outcomeBanner(b *Banner, r app.UpgradeResult, err error) {
	var lines []string
	tone, head := ToneError, headRefused
	switch r.Outcome {
	case app.UpgradeBound:
		tone, head = ToneOK, headBound
	case app.UpgradeAlready:
		tone, head = ToneOK, headAlready
	case app.UpgradeAuto:
		tone, head = ToneInfo, headAuto
	case app.UpgradeUnbound:
		tone, head = ToneOK, headUnbound
	case app.UpgradePending:
		tone, head = ToneWarn, headPending
	}
	if r.Outcome != "" {
		lines = explainLines(r.Explanation, k.lang)
		if r.ProxyLimit > 0 && (r.Outcome == app.UpgradeBound || r.Reason == string(app.CentralProxyLimitReached)) {
			lines = append(lines, T("Helper has used {{.Used}} of {{.Limit}} proxy upgrades.", map[string]any{"Used": r.ProxyUsed, "Limit": r.ProxyLimit}))
		}
	}
	if err != nil {
		lines = append(lines, k.msg(err))
	}
	b.Set(tone, head.in(k.lang), lines...)
}
