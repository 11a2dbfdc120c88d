package app

// Explanation is a rider-facing answer to "why can't this card be
// upgraded?" (or "what happened?"): what it means and what to do instead,
// in Chinese and English. It never holds personal data.
type Explanation struct {
	Upgradeable bool
	Reason      string // machine word: a CardKind or a CentralCode
	ZH, EN      string // what it means
	NextZH      string // the alternative / next step
	NextEN      string
}

// Explain says whether a card of c's kind can be upgraded at the desk and,
// if not, why and what the rider can do instead (docs/rules.md). A special
// card is "upgradeable" in the sense that it is already upgraded by the
// backend: Upgradeable is false, Reason "special_card_auto", and the text
// says there is nothing to do. An unknown kind (manual entry) is treated as
// upgradeable: central decides.
func Explain(c Card) Explanation {
	k := c.Kind
	switch {
	case k == "" || k == CardUnknown:
		return Explanation{Upgradeable: true, Reason: string(CardUnknown),
			ZH: "卡种未知，将由中心系统判断能否升级。", EN: "Card kind unknown; central will decide whether it can be upgraded."}
	case k.Special():
		return Explanation{Upgradeable: false, Reason: string(CentralSpecialCardAuto),
			ZH:     "这是" + kindZH(k) + "，系统已自动升级（挂失补办后也会自动升级），无需办理。",
			EN:     "This is a " + kindEN(k) + "; the system upgrades it automatically (also after loss and re-issue). Nothing to do.",
			NextZH: "如需要，还可另外绑定一张普通实体卡和一张手机NFC卡（不享受特殊卡优惠）。",
			NextEN: "If wished, one ordinary physical card and one phone NFC card may be bound in addition (without the special-card benefits)."}
	case k == CardUnionPay:
		return notUpgradeable(k, "银联卡不能升级。", "UnionPay cards cannot be upgraded.")
	case k == CardDCEPWearable:
		return notUpgradeable(k, "数字人民币可穿戴设备不能升级。", "Digital-RMB wearables cannot be upgraded.")
	case k == CardAlipayTicket:
		return notUpgradeable(k, "支付宝预付电子单程票不能升级。", "Alipay prepaid electronic single-journey tickets cannot be upgraded.")
	case k == CardAirRail:
		return notUpgradeable(k, "空轨联运票不能升级。", "Air-rail combined tickets cannot be upgraded.")
	case k == CardSingleJourney:
		return Explanation{Upgradeable: false, Reason: string(k),
			ZH: "单程票不需要也不能升级；购票时已核验证件和健康状态。", EN: "Single-journey tickets are not upgraded; ID and health status are checked when buying.",
			NextZH: "经常乘车请办理一卡通并升级，或使用乘车码。", NextEN: "For regular travel, get a Yikatong card and upgrade it, or use the ride-QR code."}
	case k == CardUnion:
		return Explanation{Upgradeable: true, Reason: string(k),
			ZH: "外地发行的交通联合卡可以升级。", EN: "Transport-union cards issued in other cities can be upgraded."}
	case k == CardCommemorative:
		return Explanation{Upgradeable: true, Reason: string(k),
			ZH: "地铁纪念票可以像普通卡一样升级。", EN: "Commemorative tickets can be upgraded like ordinary cards."}
	}
	return Explanation{Upgradeable: true, Reason: string(k), ZH: "此卡可以升级。", EN: "This card can be upgraded."}
}

func notUpgradeable(k CardKind, zh, en string) Explanation {
	return Explanation{Upgradeable: false, Reason: string(k), ZH: zh, EN: en,
		NextZH: "请改用北京一卡通（实体卡或手机NFC卡）并升级，或使用乘车码进站。",
		NextEN: "Please use a Beijing Yikatong card (physical or phone NFC) and upgrade it, or enter with the ride-QR code."}
}

func kindZH(k CardKind) string {
	switch k {
	case CardSpecialElder:
		return "养老助残卡"
	case CardCivilAffairs:
		return "民政一卡通"
	case CardDisability:
		return "残疾人服务一卡通"
	}
	return "特殊卡"
}

func kindEN(k CardKind) string {
	switch k {
	case CardSpecialElder:
		return "senior/disability card"
	case CardCivilAffairs:
		return "civil-affairs card"
	case CardDisability:
		return "disability-service card"
	}
	return "special card"
}

// ExplainReason turns a refusal or no-answer reason (a CentralCode, as in
// ErrorReason of a Central error) into the rider-facing message and the next
// step. Unknown reasons get a generic text.
func ExplainReason(reason string) Explanation {
	e := Explanation{Reason: reason}
	switch CentralCode(reason) {
	case CentralLimitReached:
		e.ZH, e.EN = "此人已绑定同类卡：实体卡、手机NFC卡各限一张。", "This person already has a card of this form bound: one physical and one phone NFC card at most."
		e.NextZH, e.NextEN = "可先解绑旧卡，再绑定新卡（解绑并重新绑定）。", "Unbind the old card first, then bind the new one (unbind and re-bind)."
	case CentralNotUpgradeable:
		x := notUpgradeable("", "此类卡不能升级。", "Cards of this kind cannot be upgraded.")
		x.Reason = reason
		return x
	case CentralBoundToOther:
		e.ZH, e.EN = "此卡已绑定其他人。", "This card is bound to another person."
		e.NextZH, e.NextEN = "请持卡人本人（或其代办人）携带证件先解绑；或改用另一张卡。", "The holder (or their helper) must unbind it with their document first; or use another card."
	case CentralProxyLimitReached:
		e.ZH, e.EN = "代办人已代办满5张卡，不能再代办。", "The helper has already upgraded the maximum of 5 cards for others."
		e.NextZH, e.NextEN = "请换一位代办人，或由持卡人本人办理。", "Another helper, or the holder in person, can do it."
	case CentralSpecialCardAuto:
		e.ZH, e.EN = "特殊卡已由系统自动升级，无需办理。", "Special cards are upgraded automatically; nothing to do."
		e.NextZH, e.NextEN = "直接刷卡乘车即可。", "The rider can simply tap the card."
	case CentralCodeMismatch:
		e.ZH, e.EN = "验证码不正确。", "The verification code is wrong."
		e.NextZH, e.NextEN = "请持卡人再看一下手机短信，重新输入6位验证码。", "Ask the holder to check the text message again and re-enter the 6-digit code."
	case CentralCodeUnavailable:
		e.ZH, e.EN = "持卡人没有登记手机号，收不到验证码，不能代办。", "The holder has no phone on record, so no code can be sent; a proxy upgrade is not possible."
		e.NextZH, e.NextEN = "请持卡人本人携带证件来办理。", "The holder must come in person with their document."
	case CentralInvalidCode:
		e.ZH, e.EN = "验证码应为6位数字。", "The verification code has 6 digits."
		e.NextZH, e.NextEN = "请重新输入。", "Please re-enter it."
	case CentralInvalidDocument:
		e.ZH, e.EN = "证件号码无效。", "The document number is not valid."
		e.NextZH, e.NextEN = "请重新读证，或核对证件类型和号码后重新输入。", "Read the document again, or check its type and number and re-enter."
	case CentralInvalidCardNumber:
		e.ZH, e.EN = "卡号无效。", "The card number is not valid."
		e.NextZH, e.NextEN = "请重新读卡；卡号磨损时可在读卡后查看卡号。", "Read the card again; a worn number can be shown by reading the card."
	case CentralNotFound:
		e.ZH, e.EN = "中心系统没有这张卡的记录。", "Central has no record of this card."
		e.NextZH, e.NextEN = "请重新读卡核对卡号；仍不行请联系一卡通客服。", "Read the card again to check the number; if it persists, contact Yikatong customer service."
	case CentralConflict:
		e.ZH, e.EN = "中心系统的记录与此操作冲突（例如此卡已绑定他人，或此人的绑定已变化）。", "Central's records conflict with this operation (for example, the card is bound to someone else, or the person's bindings changed)."
		e.NextZH, e.NextEN = "请查询此卡，看它绑定给了谁：如绑定他人，须由持卡人携带证件解绑，或改用另一张卡。", "Look the card up to see whom it is bound to: if to someone else, the holder must unbind it with their document, or use another card."
	case CentralIdempotencyConflict:
		e.ZH, e.EN = "重复提交的内容与第一次不同。", "A resubmission differed from the first submission."
		e.NextZH, e.NextEN = "请关闭此页面，重新开始办理。", "Close this form and start again."
	case CentralUnauthorized:
		e.ZH, e.EN = "本站未获中心系统授权。", "This station is not authorised by central."
		e.NextZH, e.NextEN = "请联系技术支持。", "Call technical support."
	case CentralOffline, CentralOutcomeUnknown, CentralRateLimited, CentralUnavailableCode:
		e.ZH, e.EN = "暂时无法连接中心系统。", "Central cannot be reached at the moment."
		e.NextZH, e.NextEN = "请稍后再试。", "Please try again later."
	default:
		e.ZH, e.EN = "中心系统拒绝了此操作。", "Central refused this operation."
		e.NextZH, e.NextEN = "请稍后重试；如仍不行请联系值班站长。", "Try again later; if it persists, call the supervisor."
	}
	return e
}
