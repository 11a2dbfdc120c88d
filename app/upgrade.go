package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Audit actions of the upgrade desk (besides ActCardBind, ActCardUnbind).
const (
	ActCardLookup      AuditAction = "card.lookup"        // card-number look-up
	ActCardBindQueued  AuditAction = "card.bind_queued"   // saved as pending: central unreachable
	ActCardUnbindQueue AuditAction = "card.unbind_queued" // saved as pending
	ActProxyCodeSend   AuditAction = "card.proxy_code"    // verification code requested
)

// UpgradeOutcome is how an upgrade-desk action ended, as the result screen
// shows it.
type UpgradeOutcome string

// Outcomes. Refused carries a Reason and the rider-facing explanation;
// Pending means saved locally and completed by the background worker when
// the link returns.
const (
	UpgradeBound   UpgradeOutcome = "bound"
	UpgradeAlready UpgradeOutcome = "already_bound" // the card was bound to this holder before
	UpgradeAuto    UpgradeOutcome = "auto"          // special card: upgraded by the backend
	UpgradeUnbound UpgradeOutcome = "unbound"
	UpgradePending UpgradeOutcome = "pending"
	UpgradeRefused UpgradeOutcome = "refused"
)

// UpgradeResult is everything the result screen needs: the outcome, the
// reason (a CentralCode or a CardKind) and the bilingual message and next
// step, the binding (masked), and for a proxy upgrade the helper's count.
// Existing lists the holder's bindings when the limit was reached, so the
// screen can offer unbind-then-bind. It holds no personal data in clear.
type UpgradeResult struct {
	Outcome         UpgradeOutcome
	Reason          string
	Explanation     Explanation
	Binding         Binding
	HolderDocMasked string
	ProxyUsed       int
	ProxyLimit      int
	Existing        []Binding
	Key             string // the idempotency key the action used
}

// UpgradeRequest is an own upgrade: the holder's validated document and the
// card as read (or typed: Kind may be "" or CardUnknown, Form "").
// Key is the idempotency key created when the form opened (NewIdempotencyKey).
type UpgradeRequest struct {
	Key    string
	Holder DocNumber
	Card   Card
}

// ProxyUpgradeRequest is a proxy upgrade (代办): the helper's and the
// holder's documents and the code sent to the holder's phone.
type ProxyUpgradeRequest struct {
	Key    string
	Helper DocNumber
	Holder DocNumber
	Card   Card
	Code   string
}

// UnbindInput unbinds CardNumber from Holder.
type UnbindInput struct {
	Key        string
	Holder     DocNumber
	CardNumber string
}

// RebindInput unbinds OldCardNumber and then binds NewCard, for a holder
// at the one-per-form limit. It uses two keys, both created when the form
// opened. A proxy re-bind sets Helper and Code (the bind is then a proxy
// bind; the unbind is done on the holder's document).
type RebindInput struct {
	UnbindKey     string
	BindKey       string
	Holder        DocNumber
	OldCardNumber string
	NewCard       Card
	Helper        DocNumber
	Code          string
}

// CardLookup is the card-number look-up result: the number to show large
// (Grouped in blocks of four), what central knows (Known false when it
// could not be asked), and the explanation when the card cannot be upgraded.
type CardLookup struct {
	Number          string
	Grouped         string
	Kind            CardKind
	Form            CardForm
	Known           bool // central answered
	Upgradeable     bool
	Auto            bool
	Bound           bool
	HolderDocMasked string
	Explanation     Explanation
	Reason          string // why Known is false (a CentralCode), "" otherwise
}

// PendingKind says what a pending item will do.
type PendingKind string

// Pending kinds.
const (
	PendingBind   PendingKind = "bind"
	PendingUnbind PendingKind = "unbind"
)

// PendingUpgrade is a bind or unbind saved while central was unreachable.
// Bind/Unbind hold documents (personal information): the outbox keeps them
// encrypted and deletes them once the item is settled. Subject is the
// masked summary for the pending list; Operator the desk operator's ID.
type PendingUpgrade struct {
	Key      string
	Kind     PendingKind
	Operator string
	Subject  string
	Bind     BindRequest
	Unbind   UnbindRequest
	Created  time.Time
	Attempts int
}

// PendingState is the state of a pending item in the list.
type PendingState string

// Pending states.
const (
	PendingWaiting   PendingState = "pending"
	PendingConfirmed PendingState = "confirmed"
	PendingRefused   PendingState = "refused"
)

// PendingView is one line of the pending list (masked).
type PendingView struct {
	Key      string
	Kind     PendingKind
	Subject  string
	State    PendingState
	Reason   string
	Attempts int
	Created  time.Time
	Updated  time.Time
	NextTry  time.Time
}

// UpgradeOutbox keeps pending upgrades durably (the ledger). Save is
// idempotent on Key: saving a key that exists keeps the first item and
// returns nil. Due returns waiting items whose next try is at or before
// now, oldest first (so an unbind queued before its re-bind goes first).
// Settle records the final state (Confirmed or Refused) with a reason and
// deletes the personal payload; Retry records a failed attempt and the next
// try. Implementations are safe for concurrent use.
type UpgradeOutbox interface {
	SavePending(ctx context.Context, p PendingUpgrade) error
	DuePending(ctx context.Context, now time.Time, limit int) ([]PendingUpgrade, error)
	SettlePending(ctx context.Context, key string, state PendingState, reason string) error
	RetryPending(ctx context.Context, key string, reason string, next time.Time) error
	ListPending(ctx context.Context, limit int) ([]PendingView, error)
}

// UpgradesConfig configures NewUpgrades. Central, Audit and Tokens are
// required; Outbox nil means no offline queue (an unreachable central is
// then a refusal "try later").
type UpgradesConfig struct {
	Central Central
	Outbox  UpgradeOutbox
	Audit   AuditLog
	Tokens  *Tokenizer
	Clock   Clock
	Logger  *slog.Logger
	// Policy returns the current policy (proxy limit); nil: DefaultPolicy.
	Policy func() Policy
}

// Upgrades is the service-desk use cases: upgrade, proxy upgrade, unbind,
// re-bind, card look-up, explanation, bindings and the pending list.
// Rules are checked early at the desk for a clear message; central's answer
// decides. Every bind, unbind, look-up and refusal is audited with the
// operator, a document token and the masked card. Safe for concurrent use;
// two calls with the same key at once (a double click) send one request
// and get the same result.
type Upgrades struct {
	cfg UpgradesConfig
	log *slog.Logger

	once keyedOnce[UpgradeResult]
}

// NewUpgrades builds the service.
func NewUpgrades(cfg UpgradesConfig) (*Upgrades, error) {
	if cfg.Central == nil || cfg.Audit == nil || cfg.Tokens == nil {
		return nil, errors.New("upgrades: Central, Audit and Tokens are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Policy == nil {
		cfg.Policy = DefaultPolicy
	}
	return &Upgrades{cfg: cfg, log: cfg.Logger}, nil
}

// NewIdempotencyKey returns a fresh random key (128 bits, hex). Create one
// when a form opens and keep it until the form closes, so a double click,
// a retry and the pending item all carry the same key (docs/contracts.md "Idempotency").
func NewIdempotencyKey() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("app: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// Upgrade binds the holder's own card (physical or NFC). The result is
// Bound, Already, Auto (special card), Pending (central unreachable, saved
// with req.Key) or Refused with the reason and next step. err is non-nil
// only when the desk itself failed (missing key, audit or ledger write
// failed: the action may have happened, the result says what is known).
func (u *Upgrades) Upgrade(ctx context.Context, op Operator, req UpgradeRequest) (UpgradeResult, error) {
	if req.Key == "" {
		return UpgradeResult{}, errNoKey()
	}
	return u.once.do(ctx, req.Key, func() (UpgradeResult, error) {
		return u.bind(ctx, op, req.Key, req.Holder, DocNumber{}, req.Card, "", false)
	})
}

// ProxyUpgrade binds the holder's card on behalf of the holder (代办), with
// the verification code central sent to the holder's phone. The result
// carries the helper's proxy count (ProxyUsed of ProxyLimit) after it.
func (u *Upgrades) ProxyUpgrade(ctx context.Context, op Operator, req ProxyUpgradeRequest) (UpgradeResult, error) {
	if req.Key == "" {
		return UpgradeResult{}, errNoKey()
	}
	return u.once.do(ctx, req.Key, func() (UpgradeResult, error) {
		return u.bind(ctx, op, req.Key, req.Holder, req.Helper, req.Card, req.Code, true)
	})
}

func errNoKey() error {
	return NewError(CodeInternal, "missing_key", "缺少办理编号（程序错误）。", "Missing idempotency key (a bug).")
}

func refused(key, reason string) UpgradeResult {
	return UpgradeResult{Outcome: UpgradeRefused, Reason: reason, Explanation: ExplainReason(reason), Key: key}
}

// validCode reports whether code is 6 ASCII digits.
func validCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for i := 0; i < 6; i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

func (u *Upgrades) bind(ctx context.Context, op Operator, key string, holder, helper DocNumber, card Card, code string, proxy bool) (UpgradeResult, error) {
	// Early desk checks: a clear message without a round trip.
	var res UpgradeResult
	num, err := ParseCardNumber(card.Number)
	switch {
	case holder.IsZero():
		res = refused(key, string(CentralInvalidDocument))
	case err != nil:
		res = refused(key, string(CentralInvalidCardNumber))
	case proxy && helper.IsZero():
		res = refused(key, string(CentralInvalidDocument))
	case proxy && !validCode(code):
		res = refused(key, string(CentralInvalidCode))
	}
	if res.Outcome != "" {
		return res, u.audit(ctx, op, ActCardBind, holder, card.Number, OutcomeDenied, res.Reason)
	}
	if proxy && helper.Equal(holder) {
		proxy, helper, code = false, DocNumber{}, "" // helping oneself is an own upgrade
	}
	card.Number = num
	if ex := Explain(card); !ex.Upgradeable {
		if card.Kind.Special() {
			res = UpgradeResult{Outcome: UpgradeAuto, Reason: ex.Reason, Explanation: ex, Key: key,
				Binding: Binding{CardMasked: card.MaskedNumber(), Kind: card.Kind, Form: card.Form, Auto: true}}
			return res, u.audit(ctx, op, ActCardBind, holder, num, OutcomeSuccess, "special_card_auto")
		}
		res = UpgradeResult{Outcome: UpgradeRefused, Reason: string(CentralNotUpgradeable), Explanation: ex, Key: key}
		return res, u.audit(ctx, op, ActCardBind, holder, num, OutcomeDenied, "card_not_upgradeable kind="+string(card.Kind))
	}
	req := BindRequest{CardNumber: num, Form: card.Form, Holder: holder, Operator: op.ID}
	if proxy {
		req.Helper, req.Code = helper, code
	}
	r, err := u.cfg.Central.Bind(ctx, key, req)
	if err == nil {
		res = bindDone(key, r)
		detail := "key=" + key
		if proxy {
			detail += fmt.Sprintf(" proxy helper=%s used=%d/%d", u.cfg.Tokens.Doc(helper), r.ProxyUsed, r.ProxyLimit)
		}
		return res, u.audit(ctx, op, ActCardBind, holder, num, OutcomeSuccess, detail)
	}
	return u.bindFailed(ctx, op, key, req, card, err)
}

func bindDone(key string, r BindResult) UpgradeResult {
	res := UpgradeResult{Outcome: UpgradeBound, Binding: r.Binding, HolderDocMasked: r.HolderDocMasked,
		ProxyUsed: r.ProxyUsed, ProxyLimit: r.ProxyLimit, Key: key}
	if r.Already {
		res.Outcome = UpgradeAlready
		res.Explanation = Explanation{Upgradeable: true, Reason: "already_bound",
			ZH: "此卡早已绑定本人，无需重复办理。", EN: "This card was already bound to this person; nothing changed.",
			NextZH: "直接刷卡乘车即可。", NextEN: "The rider can simply tap the card."}
		return res
	}
	formZH, formEN := "实体卡", "physical card"
	if r.Binding.Form == FormNFC {
		formZH, formEN = "手机NFC卡", "phone NFC card"
	}
	res.Explanation = Explanation{Upgradeable: true, Reason: "bound",
		ZH: "升级成功：" + formZH + " " + r.Binding.CardMasked + " 已绑定。", EN: "Upgraded: " + formEN + " " + r.Binding.CardMasked + " is bound.",
		NextZH: "进站刷卡时闸机将自动核验健康状态。", NextEN: "Gates now check the health status automatically when the card is tapped."}
	return res
}

// bindFailed handles a Central error: refusals become Refused results,
// an unreachable central a Pending item.
func (u *Upgrades) bindFailed(ctx context.Context, op Operator, key string, req BindRequest, card Card, err error) (UpgradeResult, error) {
	reason := ErrorReason(err)
	switch ErrorCode(err) {
	case CodeUnavailable:
		return u.queue(ctx, op, PendingUpgrade{Key: key, Kind: PendingBind, Operator: op.ID, Bind: req,
			Subject: "bind " + MaskCardNumber(req.CardNumber) + " → " + req.Holder.Masked()}, reason)
	case CodeInvalid, CodeNotFound, CodeConflict, CodeUnauthorized:
	default:
		u.log.Error("central bind failed", "err", err)
		reason = "internal"
	}
	if reason == string(CentralSpecialCardAuto) {
		res := UpgradeResult{Outcome: UpgradeAuto, Reason: reason, Explanation: Explain(Card{Kind: CardSpecialElder}), Key: key,
			Binding: Binding{CardMasked: MaskCardNumber(req.CardNumber), Kind: card.Kind, Form: card.Form, Auto: true}}
		return res, u.audit(ctx, op, ActCardBind, req.Holder, req.CardNumber, OutcomeSuccess, reason)
	}
	res := refused(key, reason)
	switch CentralCode(reason) {
	case CentralLimitReached:
		if pb, err := u.cfg.Central.PersonBindings(ctx, req.Holder); err == nil {
			res.Existing = pb.Bindings
		}
	case CentralProxyLimitReached:
		res.ProxyLimit = u.cfg.Policy().ProxyLimit
		res.ProxyUsed = res.ProxyLimit
		if pb, err := u.cfg.Central.PersonBindings(ctx, req.Helper); err == nil {
			res.ProxyUsed, res.ProxyLimit = pb.ProxyUsed, pb.ProxyLimit
		}
	case CentralNotUpgradeable:
		if card.Kind != "" && card.Kind != CardUnknown {
			res.Explanation = Explain(card)
			res.Explanation.Reason = reason
		}
	}
	return res, u.audit(ctx, op, ActCardBind, req.Holder, req.CardNumber, OutcomeDenied, reason)
}

// queue saves a pending item after central could not be reached (or
// answered with an unknown outcome: the same key will settle it).
func (u *Upgrades) queue(ctx context.Context, op Operator, p PendingUpgrade, why string) (UpgradeResult, error) {
	act, holder, card := ActCardBindQueued, p.Bind.Holder, p.Bind.CardNumber
	if p.Kind == PendingUnbind {
		act, holder, card = ActCardUnbindQueue, p.Unbind.Holder, p.Unbind.CardNumber
	}
	if u.cfg.Outbox == nil {
		res := refused(p.Key, why)
		return res, u.audit(ctx, op, act, holder, card, OutcomeFailure, why+" no_outbox")
	}
	p.Created = u.cfg.Clock.Now()
	if err := u.cfg.Outbox.SavePending(ctx, p); err != nil {
		// Fail closed: an unrecorded pending bind would be lost. If the
		// outcome was unknown, central may still have bound it; the
		// clerk is told to check the bindings later.
		u.log.Error("save pending upgrade failed", "kind", p.Kind, "err", err)
		_ = u.audit(ctx, op, act, holder, card, OutcomeFailure, "ledger_failed "+why)
		return refused(p.Key, why), WrapError(err, CodeUnavailable, "ledger_failed",
			"无法保存待办记录，本次办理未完成；请稍后重试并核对绑定情况。", "Could not save the pending item; not done. Try again later and check the bindings.")
	}
	res := UpgradeResult{Outcome: UpgradePending, Reason: why, Key: p.Key, Explanation: Explanation{Upgradeable: true, Reason: why,
		ZH:     "中心系统暂时无法连接，已保存办理记录。",
		EN:     "Central cannot be reached right now; the request has been saved.",
		NextZH: "网络恢复后将自动完成（只办理一次），无需重复办理；可在“待处理”列表查看进度。",
		NextEN: "It will complete automatically, exactly once, when the link returns; no need to do it again. See the pending list for progress."}}
	if p.Kind == PendingBind {
		res.Binding = Binding{CardMasked: MaskCardNumber(p.Bind.CardNumber), Form: p.Bind.Form}
	}
	return res, u.audit(ctx, op, act, holder, card, OutcomeSuccess, why+" key="+p.Key)
}

// Unbind unbinds a card from its holder (the holder's document is
// required). Results: Unbound, Pending, Refused (not bound, bound to
// someone else, special card).
func (u *Upgrades) Unbind(ctx context.Context, op Operator, in UnbindInput) (UpgradeResult, error) {
	if in.Key == "" {
		return UpgradeResult{}, errNoKey()
	}
	return u.once.do(ctx, in.Key, func() (UpgradeResult, error) { return u.unbind(ctx, op, in) })
}

func (u *Upgrades) unbind(ctx context.Context, op Operator, in UnbindInput) (UpgradeResult, error) {
	num, err := ParseCardNumber(in.CardNumber)
	if in.Holder.IsZero() || err != nil {
		reason := string(CentralInvalidCardNumber)
		if in.Holder.IsZero() {
			reason = string(CentralInvalidDocument)
		}
		return refused(in.Key, reason), u.audit(ctx, op, ActCardUnbind, in.Holder, in.CardNumber, OutcomeDenied, reason)
	}
	req := UnbindRequest{CardNumber: num, Holder: in.Holder, Operator: op.ID}
	r, err := u.cfg.Central.Unbind(ctx, in.Key, req)
	if err == nil {
		res := UpgradeResult{Outcome: UpgradeUnbound, Key: in.Key, Binding: Binding{CardMasked: r.CardMasked},
			Explanation: Explanation{Reason: "unbound", ZH: "已解绑卡 " + r.CardMasked + "。", EN: "Card " + r.CardMasked + " is unbound.",
				NextZH: "现在可以绑定新卡。", NextEN: "A new card can now be bound."}}
		return res, u.audit(ctx, op, ActCardUnbind, in.Holder, num, OutcomeSuccess, "key="+in.Key)
	}
	reason := ErrorReason(err)
	switch ErrorCode(err) {
	case CodeUnavailable:
		return u.queue(ctx, op, PendingUpgrade{Key: in.Key, Kind: PendingUnbind, Operator: op.ID, Unbind: req,
			Subject: "unbind " + MaskCardNumber(num) + " ← " + in.Holder.Masked()}, reason)
	case CodeInvalid, CodeNotFound, CodeConflict, CodeUnauthorized:
	default:
		u.log.Error("central unbind failed", "err", err)
		reason = "internal"
	}
	res := refused(in.Key, reason)
	switch CentralCode(reason) {
	case CentralNotFound:
		res.Explanation.ZH, res.Explanation.EN = "此卡没有绑定，无需解绑。", "This card is not bound; nothing to unbind."
		res.Explanation.NextZH, res.Explanation.NextEN = "可以直接绑定。", "It can be bound directly."
	case CentralBoundToOther:
		res.Explanation.ZH, res.Explanation.EN = "此卡绑定的不是该证件的持有人。", "This card is not bound to this document's holder."
		res.Explanation.NextZH, res.Explanation.NextEN = "请用绑定此卡的证件解绑。", "Unbind it with the document it is bound to."
	case CentralSpecialCardAuto:
		res.Explanation.ZH, res.Explanation.EN = "特殊卡由系统自动升级，不能在窗口解绑；挂失后自动解绑。", "Special cards cannot be unbound at the desk; reporting the card lost unbinds it."
		res.Explanation.NextZH, res.Explanation.NextEN = "如需挂失请联系发卡机构。", "To report it lost, contact the issuer."
	}
	return res, u.audit(ctx, op, ActCardUnbind, in.Holder, num, OutcomeDenied, reason)
}

// Rebind unbinds the old card and then binds the new one (the way to
// switch cards at the one-per-form limit). If the unbind is refused, the
// bind is not tried and the unbind's result is returned. If central is
// unreachable, both are queued in order (unbind first). The bind result
// is returned otherwise.
func (u *Upgrades) Rebind(ctx context.Context, op Operator, in RebindInput) (UpgradeResult, error) {
	if in.UnbindKey == "" || in.BindKey == "" || in.UnbindKey == in.BindKey {
		return UpgradeResult{}, errNoKey()
	}
	ur, err := u.Unbind(ctx, op, UnbindInput{Key: in.UnbindKey, Holder: in.Holder, CardNumber: in.OldCardNumber})
	if err != nil {
		return ur, err
	}
	unbindPending := false
	switch ur.Outcome {
	case UpgradeUnbound:
	case UpgradeRefused:
		if ur.Reason != string(CentralNotFound) { // already unbound: go on
			return ur, nil
		}
	case UpgradePending:
		unbindPending = true
	default:
		return ur, nil
	}
	if unbindPending {
		// Central is unreachable: queue the bind behind the unbind rather
		// than try it now and have it refused for the limit.
		req := BindRequest{CardNumber: in.NewCard.Number, Form: in.NewCard.Form, Holder: in.Holder, Helper: in.Helper, Code: in.Code, Operator: op.ID}
		num, err := ParseCardNumber(req.CardNumber)
		if err != nil {
			return refused(in.BindKey, string(CentralInvalidCardNumber)), u.audit(ctx, op, ActCardBind, in.Holder, req.CardNumber, OutcomeDenied, string(CentralInvalidCardNumber))
		}
		req.CardNumber = num
		return u.once.do(ctx, in.BindKey, func() (UpgradeResult, error) {
			return u.queue(ctx, op, PendingUpgrade{Key: in.BindKey, Kind: PendingBind, Operator: op.ID, Bind: req,
				Subject: "bind " + MaskCardNumber(num) + " → " + in.Holder.Masked()}, ur.Reason)
		})
	}
	if !in.Helper.IsZero() {
		return u.ProxyUpgrade(ctx, op, ProxyUpgradeRequest{Key: in.BindKey, Helper: in.Helper, Holder: in.Holder, Card: in.NewCard, Code: in.Code})
	}
	return u.Upgrade(ctx, op, UpgradeRequest{Key: in.BindKey, Holder: in.Holder, Card: in.NewCard})
}

// SendProxyCode asks central to text a verification code to the holder's
// phone; the result names the masked phone. key identifies this request
// (a resend is a new key). Errors are Central's (CodeConflict
// "code_unavailable" when the holder has no phone, CodeUnavailable offline).
func (u *Upgrades) SendProxyCode(ctx context.Context, op Operator, key string, holder DocNumber) (ProxyCodeSent, error) {
	if holder.IsZero() {
		return ProxyCodeSent{}, NewError(CodeInvalid, string(CentralInvalidDocument), "请先读取持卡人证件。", "Read the holder's document first.")
	}
	sent, err := u.cfg.Central.SendProxyCode(ctx, key, holder)
	outcome, detail := OutcomeSuccess, "phone="+sent.PhoneMasked
	if err != nil {
		outcome, detail = OutcomeFailure, ErrorReason(err)
		if ErrorCode(err) != CodeUnavailable {
			outcome = OutcomeDenied
		}
	}
	if aerr := u.audit(ctx, op, ActProxyCodeSend, holder, "", outcome, detail); aerr != nil && err == nil {
		return sent, aerr
	}
	return sent, err
}

// CheckProxyCode checks the verification code the holder read out, at the
// step where it is typed, so a wrong code is said there and not after the
// card and the confirmation. nil: central confirmed the code. CodeInvalid
// "invalid_code" (not 6 digits) and "code_mismatch" (wrong code) are
// refusals: the clerk asks again or sends a new code. CodeUnavailable:
// central cannot be asked now; the desk may go on, and central checks the
// code again when the bind is sent (a wrong code then refuses the bind).
// The check is audited (card.proxy_code, detail verify=…), the code never.
func (u *Upgrades) CheckProxyCode(ctx context.Context, op Operator, holder DocNumber, code string) error {
	if holder.IsZero() {
		return NewError(CodeInvalid, string(CentralInvalidDocument), "请先读取持卡人证件。", "Read the holder's document first.")
	}
	if !validCode(code) {
		return NewError(CodeInvalid, string(CentralInvalidCode), "验证码应为6位数字。", "The verification code has 6 digits.")
	}
	err := u.cfg.Central.VerifyProxyCode(ctx, holder, code)
	outcome, detail := OutcomeSuccess, "verify=ok"
	if err != nil {
		outcome, detail = OutcomeFailure, "verify="+ErrorReason(err)
		if ErrorCode(err) != CodeUnavailable {
			outcome = OutcomeDenied
		}
	}
	if aerr := u.audit(ctx, op, ActProxyCodeSend, holder, "", outcome, detail); aerr != nil && err == nil {
		return aerr
	}
	if CentralCode(ErrorReason(err)) == CentralCodeMismatch {
		return WrapError(err, CodeInvalid, string(CentralCodeMismatch), "验证码不正确。请持卡人再核对一遍手机上的验证码，或重新发送。",
			"The verification code is wrong. Ask the holder to read the code on the phone again, or send a new one.")
	}
	return err
}

// HelperQuota returns how many proxy upgrades the helper has used and the
// limit (the desk shows "3 of 5 used" before the code is sent).
func (u *Upgrades) HelperQuota(ctx context.Context, helper DocNumber) (used, limit int, err error) {
	pb, err := u.cfg.Central.PersonBindings(ctx, helper)
	if err != nil {
		return 0, u.cfg.Policy().ProxyLimit, err
	}
	return pb.ProxyUsed, pb.ProxyLimit, nil
}

// Bindings returns the cards bound to person (masked) and their proxy
// count. Errors are Central's.
func (u *Upgrades) Bindings(ctx context.Context, person DocNumber) (PersonBindings, error) {
	if person.IsZero() {
		return PersonBindings{}, NewError(CodeInvalid, string(CentralInvalidDocument), "请先读取证件。", "Read the document first.")
	}
	return u.cfg.Central.PersonBindings(ctx, person)
}

// LookUpCard shows a card's number (for a worn card: read it, show the
// number large) and what central knows about it. The card as read is
// enough to show the number: when central cannot be asked, Known is false
// and Reason says why; err is non-nil only for an invalid number or a
// failed audit write.
func (u *Upgrades) LookUpCard(ctx context.Context, op Operator, card Card) (CardLookup, error) {
	num, err := ParseCardNumber(card.Number)
	if err != nil {
		_ = u.audit(ctx, op, ActCardLookup, DocNumber{}, card.Number, OutcomeDenied, string(CentralInvalidCardNumber))
		return CardLookup{}, err
	}
	out := CardLookup{Number: num, Grouped: GroupCardNumber(num), Kind: card.Kind, Form: card.Form}
	st, err := u.cfg.Central.CardStatus(ctx, num)
	detail := "known"
	if err == nil {
		out.Known, out.Upgradeable, out.Auto, out.Bound, out.HolderDocMasked = true, st.Upgradeable, st.Auto, st.Bound, st.HolderDocMasked
		if st.Card.Kind != "" {
			out.Kind = st.Card.Kind
		}
		if st.Card.Form != "" {
			out.Form = st.Card.Form
		}
	} else {
		out.Reason = ErrorReason(err)
		out.Upgradeable = Explain(Card{Kind: out.Kind}).Upgradeable
		detail = "unknown " + out.Reason
	}
	out.Explanation = Explain(Card{Number: num, Kind: out.Kind, Form: out.Form})
	return out, u.audit(ctx, op, ActCardLookup, DocNumber{}, num, OutcomeSuccess, detail)
}

// GroupCardNumber writes a card number in blocks of four for reading
// aloud ("1000 7512 3456 7890").
func GroupCardNumber(n string) string {
	var b strings.Builder
	for i, r := range n {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Pending lists the pending upgrades (newest first, masked). Errors are
// the outbox's; with no outbox the list is empty.
func (u *Upgrades) Pending(ctx context.Context, limit int) ([]PendingView, error) {
	if u.cfg.Outbox == nil {
		return nil, nil
	}
	return u.cfg.Outbox.ListPending(ctx, limit)
}

// CompletePending sends one pending item to central with its own key and
// records the answer: settled (confirmed or refused, audited under the
// operator who queued it) or retried later. It reports whether the item is
// settled; an unreachable central returns settled=false and the Central
// error, so the caller can back off. Sending the same key again after a
// crash between "sent" and "answer recorded" makes central replay its
// stored answer: each item takes effect once.
func (u *Upgrades) CompletePending(ctx context.Context, p PendingUpgrade, retryAt time.Time) (settled bool, err error) {
	if u.cfg.Outbox == nil {
		return false, errors.New("upgrades: no outbox")
	}
	op := Operator{ID: p.Operator}
	if op.ID == "" {
		op.ID = "system"
	}
	var (
		cerr          error
		holder        DocNumber
		card, success string
		act           AuditAction
	)
	switch p.Kind {
	case PendingBind:
		act, holder, card = ActCardBind, p.Bind.Holder, p.Bind.CardNumber
		var r BindResult
		r, cerr = u.cfg.Central.Bind(ctx, p.Key, p.Bind)
		success = "forwarded key=" + p.Key
		if cerr == nil && r.Already {
			success += " already"
		}
	case PendingUnbind:
		act, holder, card = ActCardUnbind, p.Unbind.Holder, p.Unbind.CardNumber
		_, cerr = u.cfg.Central.Unbind(ctx, p.Key, p.Unbind)
		success = "forwarded key=" + p.Key
	default:
		return true, u.cfg.Outbox.SettlePending(ctx, p.Key, PendingRefused, "unknown_kind")
	}
	if cerr == nil {
		if err := u.cfg.Outbox.SettlePending(ctx, p.Key, PendingConfirmed, "ok"); err != nil {
			return false, err
		}
		return true, u.audit(ctx, op, act, holder, card, OutcomeSuccess, success)
	}
	if ErrorCode(cerr) == CodeUnavailable {
		if err := u.cfg.Outbox.RetryPending(ctx, p.Key, ErrorReason(cerr), retryAt); err != nil {
			return false, err
		}
		return false, cerr
	}
	reason := ErrorReason(cerr)
	if reason == "" {
		reason = "internal"
	}
	state := PendingRefused
	if reason == string(CentralSpecialCardAuto) {
		state = PendingConfirmed
	}
	if err := u.cfg.Outbox.SettlePending(ctx, p.Key, state, reason); err != nil {
		return false, err
	}
	outcome := OutcomeDenied
	if state == PendingConfirmed {
		outcome = OutcomeSuccess
	}
	return true, u.audit(ctx, op, act, holder, card, outcome, "forwarded "+reason+" key="+p.Key)
}

// audit records one action. Subject: "doc:<token> card:<masked>" (either
// part omitted when absent). A failure is returned classified: the caller
// reports it (fail closed for the desk's record).
func (u *Upgrades) audit(ctx context.Context, op Operator, act AuditAction, doc DocNumber, card string, outcome AuditOutcome, detail string) error {
	var parts []string
	if !doc.IsZero() {
		parts = append(parts, "doc:"+u.cfg.Tokens.Doc(doc))
	}
	if card != "" {
		parts = append(parts, "card:"+MaskCardNumber(strings.TrimSpace(card)))
	}
	return appendAudit(ctx, u.cfg.Audit, u.log, NewAuditEntry(op.ID, "unknown", act, strings.Join(parts, " "), outcome, detail),
		"审计记录写入失败，请联系值班站长；办理结果见上。", "The audit record could not be written; call the supervisor. The result is shown above.")
}

// waitingScanLimit bounds how many pending items Waiting reads.
const waitingScanLimit = 1000

// Waiting counts the pending upgrades still waiting for central (not yet
// confirmed or refused), for the shift report's backlog line. It reads at
// most the newest 1000 pending items; with no outbox it is 0.
func (u *Upgrades) Waiting(ctx context.Context) (int, error) {
	list, err := u.Pending(ctx, waitingScanLimit)
	n := 0
	for _, p := range list {
		if p.State == PendingWaiting {
			n++
		}
	}
	return n, err
}
