package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// SalesConfig configures NewSales. Store, Audit, Cards, Tokens and Fares
// are required.
type SalesConfig struct {
	Store  TicketStore
	Audit  AuditLog
	Cards  CardReader
	Tokens *Tokenizer
	Fares  *FareTable
	// Health asks central for a buyer's status; nil: the station's last
	// status or a manual check decides.
	Health CentralHealth
	// Welfare asks central for welfare eligibility; nil: only a
	// supervisor override admits an exchange.
	Welfare CentralWelfare
	// Auth checks a supervisor's PIN for an override.
	Auth Authenticator
	// Station is the station/terminal ID written into forwarded records.
	Station string
	// Policy returns the current policy (NAT window, staleness); nil:
	// DefaultPolicy.
	Policy func() Policy
	// Forwarded is called after a record was queued for central (wakes the
	// store-and-forward worker); nil: nothing.
	Forwarded func()
	// CheckValidFor is how long an ID check may be used for a sale.
	// Default 10 minutes: a status older than that must be read again.
	CheckValidFor time.Duration
	// HealthTimeout bounds the health query. Default 4 s.
	HealthTimeout time.Duration
	Clock         Clock
	Logger        *slog.Logger
}

// Sales is the ticket window: the buyer's ID and health check, the
// single-journey sale, the welfare-ticket exchange, manual health checks
// and incomplete sales. Every step is audited; a sale is written to the
// ledger before the token is written and marked issued after, so a crash
// or a lifted token leaves an incomplete sale, never a ticket without a
// record. Safe for concurrent use; two Sell calls with the same check at
// once (a double click) write one ticket and get the same result.
type Sales struct {
	cfg SalesConfig
	log *slog.Logger

	once keyedOnce[SaleResult]
}

// SaleInput is the clerk's choice for one ticket: a destination from the
// fare table (or, without one, a fare from the table), the payment method
// and whether the clerk assisted an elderly rider or a child.
type SaleInput struct {
	DestCode string
	FareFen  int64
	Payment  Payment
	Assisted bool
}

// SaleResult is the completed sale. Recovered means a token written in an
// earlier, interrupted attempt was found on the reader and the sale was
// completed without writing again.
type SaleResult struct {
	Record    SaleRecord
	Recovered bool
}

// NewSales builds the use case.
func NewSales(cfg SalesConfig) (*Sales, error) {
	if cfg.Store == nil || cfg.Audit == nil || cfg.Cards == nil || cfg.Tokens == nil || cfg.Fares == nil {
		return nil, errors.New("sales: Store, Audit, Cards, Tokens and Fares are required")
	}
	if cfg.Policy == nil {
		cfg.Policy = DefaultPolicy
	}
	if cfg.CheckValidFor <= 0 {
		cfg.CheckValidFor = 10 * time.Minute
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = 4 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sales{cfg: cfg, log: cfg.Logger}, nil
}

// Fares returns the fare table.
func (s *Sales) Fares() *FareTable { return s.cfg.Fares }

// Policy returns the policy in force.
func (s *Sales) Policy() Policy { return s.cfg.Policy() }

// Now returns the use case's clock time.
func (s *Sales) Now() time.Time { return s.cfg.Clock.Now() }

// AssessNAT applies the policy window to a certificate time now (for the
// manual-check screen's live line).
func (s *Sales) AssessNAT(t time.Time) NATAssessment {
	return AssessNAT(t, s.cfg.Policy().NATWindow, s.cfg.Clock.Now())
}

func errNoID() error {
	return NewError(CodeInvalid, "no_id", "请先读取或录入购票人本人的证件。", "Read or enter the buyer's own ID document first.")
}

// CheckBuyer checks the buyer's identity document (read or typed) and
// their health status, for one purchase. It never fails for a decision:
// refusals and manual checks are results (Decision, Reason, Explanation).
// The status comes from central; when central cannot be reached, from the
// station's last status for this document if it is within the staleness
// policy; otherwise the decision is BuyerManual. err is non-nil only when
// the check could not be recorded (audit write failed).
func (s *Sales) CheckBuyer(ctx context.Context, op Operator, id Identity) (BuyerCheck, error) {
	c, stop := s.newCheck(id)
	if !stop {
		s.health(ctx, &c)
	}
	return c, s.auditCheck(ctx, op, c)
}

// ManualOnly starts a purchase for a manual health check without asking
// central (the rider shows a code or certificate; the check screen). An
// expired document is refused.
func (s *Sales) ManualOnly(ctx context.Context, op Operator, id Identity) (BuyerCheck, error) {
	c, stop := s.newCheck(id)
	if !stop {
		c.decision, c.reason, c.manualOK = BuyerManual, "manual_check", true
		c.expl = Explanation{Reason: "manual_check", ZH: "请查验乘客出示的健康码和核酸证明。", EN: "Check the health code and test certificate the rider shows."}
	}
	return c, s.auditCheck(ctx, op, c)
}

// newCheck validates the document; stop is true when it was refused.
func (s *Sales) newCheck(id Identity) (BuyerCheck, bool) {
	now := s.cfg.Clock.Now()
	c := BuyerCheck{key: NewIdempotencyKey(), doc: id.Doc, at: now, source: id.Source,
		masked: id.Doc.Masked(), nameMasked: id.Name.Masked(), token: s.cfg.Tokens.Doc(id.Doc)}
	if err := id.Check(now); err != nil {
		c.decision, c.reason = BuyerRefused, ErrorReason(err)
		var e *Error
		errors.As(err, &e)
		c.expl = Explanation{Reason: c.reason, ZH: e.ZH, EN: e.EN, NextZH: "不能售票。", NextEN: "No ticket can be sold."}
		if c.reason == "expired" {
			c.expl.NextZH, c.expl.NextEN = "请出示有效期内的本人证件。", "Ask for the rider's own valid document."
		}
		return c, true
	}
	return c, false
}

func (s *Sales) health(ctx context.Context, c *BuyerCheck) {
	pol := s.cfg.Policy()
	var err error
	if s.cfg.Health != nil {
		hctx, cancel := context.WithTimeout(ctx, s.cfg.HealthTimeout)
		var h HealthStatus
		h, err = s.cfg.Health.HealthStatus(hctx, c.doc)
		cancel()
		if err == nil {
			if serr := s.cfg.Store.SaveHealth(ctx, c.token, h); serr != nil {
				s.log.Warn("keep health status failed", "err", serr)
			}
			evaluate(c, h, HealthFromCentral, s.cfg.Clock.Now(), pol)
			return
		}
		if ErrorCode(err) != CodeUnavailable {
			// Central answered and refused the query (e.g. a document it
			// rejects): no status, so a manual check decides.
			s.log.Info("health query refused", "reason", ErrorReason(err))
		}
	}
	h, ok, cerr := s.cfg.Store.CachedHealth(ctx, c.token)
	if cerr != nil {
		s.log.Warn("read station health status failed", "err", cerr)
	}
	if ok {
		evaluate(c, h, HealthFromStation, s.cfg.Clock.Now(), pol)
		if c.reason != "status_stale" {
			return
		}
	}
	c.decision, c.reason, c.manualOK = BuyerManual, "status_unavailable", true
	c.health, c.healthFrom = HealthStatus{}, ""
	c.expl = Explanation{Reason: c.reason,
		ZH: "无法获取该乘客的健康状态（中心系统无法连接，本站也没有时效内的记录）。", EN: "The rider's health status is not available (central cannot be reached and the station has no recent status).",
		NextZH: "请转人工查验：核对健康码和核酸证明后再售票。", NextEN: "Do a manual check: look at the health code and test certificate, then sell."}
	if ok {
		c.reason, c.expl.Reason = "status_stale", "status_stale"
		c.expl.ZH = "本站保存的健康状态已过时效，且中心系统无法连接。"
		c.expl.EN = "The station's last status for this rider is too old, and central cannot be reached."
	}
}

// evaluate turns a status into the decision.
func evaluate(c *BuyerCheck, h HealthStatus, from string, now time.Time, pol Policy) {
	c.health, c.healthFrom = h, from
	age := now.Sub(h.AsOf)
	asOf := h.AsOf.In(chinaTime).Format("15:04")
	src := map[string][2]string{
		HealthFromCentral: {"中心系统", "central"},
		HealthFromStation: {"本站记录（" + asOf + "）", "the station's record of " + asOf},
	}[from]
	if age > pol.StatusStaleAfter {
		c.decision, c.reason, c.manualOK = BuyerManual, "status_stale", true
		c.expl = Explanation{Reason: c.reason, ZH: "健康状态已过时效（" + asOf + "）。", EN: "The health status is too old (" + asOf + ").",
			NextZH: "请转人工查验。", NextEN: "Do a manual check."}
		return
	}
	wh := int(pol.NATWindow.Hours())
	switch h.Color {
	case ColorRed, ColorYellow:
		zh, en := "红码", "Red code"
		if h.Color == ColorYellow {
			zh, en = "黄码", "Yellow code"
		}
		c.decision, c.reason, c.manualOK = BuyerRefused, "code_"+string(h.Color), false
		c.expl = Explanation{Reason: c.reason, ZH: zh + "：不能售票，不能进站（来源：" + src[0] + "）。", EN: en + ": no ticket, no entry (source: " + src[1] + ").",
			NextZH: "请礼貌告知乘客，并联系值班站长按防疫规定处置。", NextEN: "Tell the rider politely and call the duty supervisor, who follows the health rules."}
	case ColorNone:
		c.decision, c.reason, c.manualOK = BuyerManual, "no_health_account", true
		c.expl = Explanation{Reason: c.reason, ZH: "该乘客没有北京健康宝记录（如外地访客）。", EN: "No Beijing health-kit record for this rider (e.g. a visitor).",
			NextZH: "请人工查验健康码和核酸阴性证明。", NextEN: "Do a manual check of the health code and negative test certificate."}
	case ColorGreen:
		if h.TestWithin(pol.NATWindow, now) {
			c.decision, c.reason = BuyerOK, "ok"
			hrs := int(now.Sub(h.LastNegative).Hours())
			c.expl = Explanation{Reason: "ok",
				ZH: fmt.Sprintf("绿码，核酸阴性 %d 小时前（%d 小时内）。来源：%s。", hrs, wh, src[0]),
				EN: fmt.Sprintf("Green code, negative test %d h ago (within %d h). Source: %s.", hrs, wh, src[1])}
			return
		}
		c.decision, c.reason, c.manualOK = BuyerRefused, "nat_outside_window", true
		when := "无记录"
		whenEN := "none on record"
		if !h.LastNegative.IsZero() {
			when = fmt.Sprintf("%d 小时前", int(now.Sub(h.LastNegative).Hours()))
			whenEN = fmt.Sprintf("%d h ago", int(now.Sub(h.LastNegative).Hours()))
		}
		c.expl = Explanation{Reason: c.reason,
			ZH:     fmt.Sprintf("绿码，但最近一次核酸阴性为%s，超出 %d 小时时限：不能售票。", when, wh),
			EN:     fmt.Sprintf("Green code, but the last negative test is %s, outside the %d h window: no ticket.", whenEN, wh),
			NextZH: "如乘客持有时限内的纸质或电子核酸证明，可转人工查验。", NextEN: "If the rider has a newer test certificate, do a manual check."}
	default:
		c.decision, c.reason, c.manualOK = BuyerManual, "status_unknown", true
		c.expl = Explanation{Reason: c.reason, ZH: "健康状态无法识别。", EN: "The health status cannot be read.", NextZH: "请转人工查验。", NextEN: "Do a manual check."}
	}
}

func (s *Sales) auditCheck(ctx context.Context, op Operator, c BuyerCheck) error {
	outcome := OutcomeSuccess
	if c.decision == BuyerRefused {
		outcome = OutcomeDenied
	}
	// The detail names the decision and where the status came from, not
	// the colour: the audit log holds no health details.
	detail := "decision=" + string(c.decision) + " source=" + c.source
	if c.healthFrom != "" {
		detail += " status=" + c.healthFrom
	}
	switch c.reason {
	case "expired", "birth_mismatch", "empty", "status_unavailable", "status_stale", "manual_check":
		detail += " reason=" + c.reason
	}
	return s.audit(ctx, op, ActBuyerCheck, c.token, outcome, detail)
}

func (s *Sales) audit(ctx context.Context, op Operator, act AuditAction, token string, outcome AuditOutcome, detail string) error {
	subj := ""
	if token != "" {
		subj = "doc:" + token
	}
	return appendAudit(ctx, s.cfg.Audit, s.log, NewAuditEntry(op.ID, "unknown", act, subj, outcome, detail),
		"审计记录写入失败，请联系值班站长。", "The audit record could not be written; call the supervisor.")
}

// usable checks that c may still buy a ticket.
func (s *Sales) usable(c BuyerCheck) error {
	if c.IsZero() {
		return errNoID()
	}
	if c.decision != BuyerOK {
		zh, en := c.expl.ZH, c.expl.EN
		if zh == "" {
			zh, en = "该乘客未通过证件和健康状态核验。", "The rider did not pass the ID and health check."
		}
		return NewError(CodeInvalid, c.reason, zh, en)
	}
	if s.cfg.Clock.Now().Sub(c.at) > s.cfg.CheckValidFor {
		return NewError(CodeInvalid, "check_expired", "证件核验已超过有效时间，请重新读取证件。", "The ID check is too old; read the ID again.")
	}
	return nil
}

func errOnePerRead() error {
	return NewError(CodeConflict, "one_ticket_per_read",
		"本次读证已售出一张票。一人一票：每张票都须重新读取证件，同一人再次购票也须重新读证。",
		"This ID read has already bought a ticket. One ticket per person per purchase: every ticket needs the ID again, also for the same person.")
}

// Sell sells one single-journey ticket on the buyer check c: it needs an
// open shift, a check whose decision is OK and not older than
// CheckValidFor, a destination (or fare) from the table and a payment
// method. It waits for a blank token on the card reader (until ctx ends),
// writes the sale to the ledger, writes the ticket onto the token, marks
// the sale issued and queues it for central. A second Sell on the same
// check is refused (CodeConflict "one_ticket_per_read"); a retry after a
// failed write continues the same sale.
//
// Errors (*Error): CodeInvalid "no_id", the check's reason, "check_expired",
// "destination", "fare", "payment", "not_token", "not_blank"; CodeConflict
// "no_shift", "one_ticket_per_read", "sale_void"; CodeUnavailable
// "disk_full" (nothing was written: sales stop), "issue_failed" (the
// token was not written: no complete sale; retry), "record_incomplete" (the
// token was written but the ledger could not mark it: the sale stays
// listed as incomplete; do not sell again).
func (s *Sales) Sell(ctx context.Context, op Operator, c BuyerCheck, in SaleInput) (SaleResult, error) {
	if err := s.usable(c); err != nil {
		return SaleResult{}, err
	}
	return s.once.do(ctx, c.key, func() (SaleResult, error) {
		if !in.Payment.valid() {
			return SaleResult{}, NewError(CodeInvalid, "payment", "请选择付款方式。", "Choose the payment method.")
		}
		rec, err := s.newRecord(ctx, op, c, KindSingleJourney, in.DestCode, in.FareFen)
		if err != nil {
			return SaleResult{}, err
		}
		rec.Payment, rec.Assisted = in.Payment, in.Assisted
		return s.issue(ctx, op, rec)
	})
}

// newRecord checks the shift and the existing sale of the check's key and
// builds the record (state Issuing, no token yet).
func (s *Sales) newRecord(ctx context.Context, op Operator, c BuyerCheck, kind TicketKind, dest string, fare int64) (SaleRecord, error) {
	sh, ok, err := s.cfg.Store.CurrentShift(ctx)
	if err != nil {
		return SaleRecord{}, err
	}
	if !ok {
		return SaleRecord{}, errNoShift()
	}
	if old, found, err := s.cfg.Store.Sale(ctx, c.key); err != nil {
		return SaleRecord{}, err
	} else if found {
		switch old.State {
		case SaleIssued:
			return SaleRecord{}, errOnePerRead()
		case SaleVoid:
			return SaleRecord{}, NewError(CodeConflict, "sale_void", "这次购票已作废，请重新读取证件。", "This purchase was voided; read the ID again.")
		}
		return old, nil // an incomplete sale: continue it as recorded
	}
	rec := SaleRecord{Key: c.key, Kind: kind, State: SaleIssuing, Operator: op.ID, ShiftID: sh.ID,
		BuyerToken: c.token, BuyerMasked: c.masked}
	switch {
	case dest != "":
		d, ok := s.cfg.Fares.Destination(dest)
		if !ok {
			return SaleRecord{}, NewError(CodeInvalid, "destination", "票价表中没有该目的站。", "That destination is not in the fare table.")
		}
		rec.DestCode, rec.DestName = d.Code, d.NameZH
		rec.FareFen, _ = s.cfg.Fares.FareTo(d.Code)
	case s.cfg.Fares.ValidFare(fare):
		rec.FareFen = fare
	default:
		return SaleRecord{}, NewError(CodeInvalid, "fare", "请选择目的站或票价。", "Choose a destination or a fare.")
	}
	return rec, nil
}

// ValidUntil is the last moment a ticket sold at t may enter: the end of
// the service day in Beijing (23:59 China time).
func ValidUntil(t time.Time) time.Time {
	y, m, d := t.In(chinaTime).Date()
	return time.Date(y, m, d, 23, 59, 0, 0, chinaTime)
}

// issue is the common tail of a sale, an exchange and a resumed sale:
// blank token → ledger (Issuing) → write → ledger (Issued + outbox).
func (s *Sales) issue(ctx context.Context, op Operator, rec SaleRecord) (SaleResult, error) {
	card, err := s.cfg.Cards.ReadCard(ctx)
	if err != nil {
		return SaleResult{}, s.tokenErr(err)
	}
	if card.Kind != CardSingleJourney {
		return SaleResult{}, NewError(CodeInvalid, "not_token", "读卡器上不是单程票票卡，请放一张空白单程票。", "That is not a single-journey token; place a blank token on the reader.")
	}
	written := card.Balance > 0 || !card.ValidTo.IsZero()
	if written {
		if rec.TokenSerial != "" && card.Number == rec.TokenSerial && card.Balance == rec.FareFen {
			// The earlier attempt wrote this token and then failed or the
			// program died before marking it: complete, do not write again.
			res, err := s.complete(ctx, op, rec, card.Number, "recovered")
			res.Recovered = true
			return res, err
		}
		// Refused from what the token carries, before anything is
		// recorded or written: a token holds one ticket at a time.
		zh, en := "这张单程票上已有一张车票", "This token already carries a ticket"
		if card.Balance > 0 {
			zh += "（" + Yuan(card.Balance)
			en += " (" + YuanEN(card.Balance)
			if !card.ValidTo.IsZero() {
				zh += "，当日有效至 " + card.ValidTo.In(chinaTime).Format("15:04")
				en += ", valid until " + card.ValidTo.In(chinaTime).Format("15:04")
			}
			zh += "）"
			en += ")"
		}
		return SaleResult{}, NewError(CodeInvalid, "not_blank", zh+"，不能再写入。请换一张空白单程票；本次未写入任何内容。",
			en+" and cannot take another. Place a blank token; nothing was written.")
	}
	if rec.State == SaleIssuing && rec.TokenSerial != "" && card.Number != rec.TokenSerial {
		// The program stopped (or the ledger failed) while this sale's
		// token was being written: it may carry the ticket. Writing another
		// token could give the rider two tickets.
		return SaleResult{}, NewError(CodeConflict, "original_token",
			"这笔销售中断时正在写入票卡 "+MaskCardNumber(rec.TokenSerial)+"，请先把这张票卡放回读卡器。如票卡已丢失，请值班站长作废这笔销售。",
			"This sale was interrupted while token "+MaskCardNumber(rec.TokenSerial)+" was being written; put that token back on the reader. If it is lost, the supervisor voids the sale.")
	}
	now := s.cfg.Clock.Now()
	if rec.ValidUntil.IsZero() || !rec.ValidUntil.After(now) {
		rec.ValidUntil = ValidUntil(now)
	}
	rec.TokenSerial = card.Number
	if rec.Created.IsZero() {
		rec.Created = now
	}
	detail := fmt.Sprintf("recorded kind=%s fare_fen=%d dest=%s pay=%s token=%s key=%s", rec.Kind, rec.FareFen, rec.DestCode, rec.Payment, MaskCardNumber(rec.TokenSerial), rec.Key)
	stored, existing, err := s.cfg.Store.BeginSale(ctx, rec, AuditEntry{Time: now, Operator: op.ID, Action: ActTicketIssue, Subject: "doc:" + rec.BuyerToken, Outcome: OutcomeSuccess, Detail: detail})
	if err != nil {
		s.log.Error("record sale failed", "key", rec.Key, "reason", ErrorReason(err))
		return SaleResult{}, s.storeErr(err, "销售记录未能写入，未写票卡，本次未售出。", "The sale could not be recorded; no ticket was written and nothing was sold.")
	}
	if existing && stored.State == SaleIssued {
		return SaleResult{}, errOnePerRead()
	}
	rec.ValidUntil = stored.ValidUntil
	if rec.ValidUntil.IsZero() || !rec.ValidUntil.After(now) {
		rec.ValidUntil = ValidUntil(now)
	}
	serial, err := s.cfg.Cards.IssueSingleJourney(ctx, TicketSpec{FareFen: rec.FareFen, Origin: s.cfg.Fares.StationCode(), ValidUntil: rec.ValidUntil})
	if err != nil {
		reason := ErrorReason(err)
		if reason == "" {
			reason = "issue_error"
		}
		s.log.Warn("writing the ticket failed", "key", rec.Key, "reason", reason)
		if ferr := s.cfg.Store.FailSale(ctx, rec.Key, reason, AuditEntry{Operator: op.ID, Action: ActTicketIssue, Subject: "doc:" + rec.BuyerToken,
			Outcome: OutcomeFailure, Detail: "write failed " + reason + " key=" + rec.Key}); ferr != nil {
			s.log.Error("mark sale failed", "key", rec.Key, "err", ferr)
		}
		return SaleResult{}, WrapError(err, CodeUnavailable, "issue_failed",
			"票卡未写入（"+UserMessage(err, LangZH)+"）。本次售票未完成，没有售出车票。请把单程票放回读卡器，再点“售票”重试（不会重复售票）。",
			"The ticket was not written ("+UserMessage(err, LangEN)+"). The sale is not complete and no ticket was sold. Put the token back on the reader and press Sell again (it will not sell twice).")
	}
	return s.complete(ctx, op, rec, serial, "issued")
}

func (s *Sales) complete(ctx context.Context, op Operator, rec SaleRecord, serial, how string) (SaleResult, error) {
	now := s.cfg.Clock.Now()
	rec.TokenSerial, rec.Issued, rec.State = serial, now, SaleIssued
	body, err := json.Marshal(rec.Wire(s.cfg.Station))
	if err != nil {
		return SaleResult{}, err
	}
	act := ActTicketSale
	if rec.Kind == KindWelfare {
		act = ActWelfareExchange
	}
	detail := fmt.Sprintf("%s fare_fen=%d dest=%s pay=%s token=%s assisted=%t key=%s", how, rec.FareFen, rec.DestCode, rec.Payment, MaskCardNumber(serial), rec.Assisted, rec.Key)
	if rec.OverrideBy != "" {
		detail += " override=" + rec.OverrideBy
	}
	done, err := s.cfg.Store.CompleteSale(ctx, rec.Key, serial, now, ForwardItem{Kind: ForwardSale, Key: rec.Key, Body: body},
		AuditEntry{Time: now, Operator: op.ID, Action: act, Subject: "doc:" + rec.BuyerToken, Outcome: OutcomeSuccess, Detail: detail})
	if err != nil {
		s.log.Error("mark sale issued failed: ticket written, sale left incomplete", "key", rec.Key, "reason", ErrorReason(err))
		return SaleResult{Record: rec}, WrapError(err, CodeUnavailable, "record_incomplete",
			"车票已写入票卡，但账本无法标记完成（"+UserMessage(err, LangZH)+"）。该笔销售列在“待处理”中，请勿重复售票，联系值班站长。",
			"The ticket is on the token, but the ledger could not mark the sale complete ("+UserMessage(err, LangEN)+"). It is listed as incomplete; do not sell again; call the supervisor.")
	}
	if s.cfg.Forwarded != nil {
		s.cfg.Forwarded()
	}
	return SaleResult{Record: done}, nil
}

func (s *Sales) tokenErr(err error) error {
	if ErrorCode(err) == CodeUnavailable && (ErrorReason(err) == "cancelled" || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return WrapError(err, CodeUnavailable, "no_token", "读卡器上没有单程票。请放一张空白单程票后重试。", "No token on the reader. Place a blank token and try again.")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return WrapError(err, CodeUnavailable, "no_token", "读卡器上没有单程票。请放一张空白单程票后重试。", "No token on the reader. Place a blank token and try again.")
	}
	return err
}

// storeErr keeps a classified storage error's reason (disk_full stays
// disk_full) but says what it means for the sale.
func (s *Sales) storeErr(err error, zh, en string) error {
	reason := ErrorReason(err)
	if reason == "" {
		reason = "ledger_failed"
	}
	code := ErrorCode(err)
	if code == CodeInternal || code == "" {
		code = CodeUnavailable
	}
	return WrapError(err, code, reason, zh+UserMessage(err, LangZH), en+" "+UserMessage(err, LangEN))
}

// Welfare asks central whether the buyer may exchange a welfare ticket.
// Errors: "no_id"; CodeUnavailable when central cannot be asked (a
// supervisor may override).
func (s *Sales) Welfare(ctx context.Context, c BuyerCheck) (WelfareStatus, error) {
	if c.IsZero() {
		return WelfareStatus{}, errNoID()
	}
	if s.cfg.Welfare == nil {
		return WelfareStatus{}, NewError(CodeUnavailable, string(CentralOffline), "无法向中心系统查询福利资格。", "Welfare eligibility cannot be asked.")
	}
	hctx, cancel := context.WithTimeout(ctx, s.cfg.HealthTimeout)
	defer cancel()
	return s.cfg.Welfare.WelfareEligibility(hctx, c.doc)
}

// AuthorizeOverride checks a supervisor's operator number and PIN for an
// override at by's window and audits it (supervisor.override). The
// supervisor's login is audited by the Authenticator as usual. Errors are
// the Authenticator's, or CodeUnauthorized "not_supervisor".
func (s *Sales) AuthorizeOverride(ctx context.Context, by Operator, supervisorID, pin string) (Operator, error) {
	if s.cfg.Auth == nil {
		return Operator{}, NewError(CodeUnavailable, "no_auth", "无法核验站长密码。", "Supervisor PINs cannot be checked here.")
	}
	sup, err := s.cfg.Auth.Login(ctx, supervisorID, pin)
	if err != nil {
		return Operator{}, err
	}
	if sup.Role != RoleSupervisor {
		_ = s.audit(ctx, Operator{ID: sup.ID}, ActOverride, "", OutcomeDenied, "not_supervisor at_desk_of="+by.ID)
		return Operator{}, NewError(CodeUnauthorized, "not_supervisor", "只有值班站长可以授权。", "Only the duty supervisor can authorise this.")
	}
	return sup, s.audit(ctx, sup, ActOverride, "", OutcomeSuccess, "authorised at_desk_of="+by.ID)
}

// Exchange exchanges a welfare ticket (福利票) on the buyer check c: the
// same ID and health check as a sale, then central's eligibility; a
// supervisor override (from AuthorizeOverride) admits a buyer central does
// not confirm and is audited with its reason. The ticket is written like a
// sale (payment "welfare", no money). Errors as Sell, plus CodeConflict
// "not_eligible" and CodeUnavailable "eligibility_unknown" (central could
// not be asked: a supervisor may override).
func (s *Sales) Exchange(ctx context.Context, op Operator, c BuyerCheck, in WelfareInput) (SaleResult, error) {
	if err := s.usable(c); err != nil {
		return SaleResult{}, err
	}
	return s.once.do(ctx, c.key, func() (SaleResult, error) {
		override := ""
		if in.Override != nil {
			if in.Override.Role != RoleSupervisor || in.Override.ID == "" {
				return SaleResult{}, NewError(CodeUnauthorized, "not_supervisor", "只有值班站长可以授权。", "Only the duty supervisor can authorise this.")
			}
			reason := in.OverrideReason
			if !containsStr(OverrideReasons, reason) {
				return SaleResult{}, NewError(CodeInvalid, "override_reason", "请选择授权原因。", "Choose the reason for the override.")
			}
			override = in.Override.ID
			if err := s.audit(ctx, *in.Override, ActOverride, c.token, OutcomeSuccess, "welfare reason="+reason+" clerk="+op.ID+" key="+c.key); err != nil {
				return SaleResult{}, err
			}
		} else {
			st, err := s.Welfare(ctx, c)
			switch {
			case err != nil && ErrorCode(err) == CodeUnavailable:
				_ = s.audit(ctx, op, ActWelfareExchange, c.token, OutcomeFailure, "eligibility_unknown key="+c.key)
				return SaleResult{}, WrapError(err, CodeUnavailable, "eligibility_unknown",
					"中心系统无法确认福利资格。如乘客确有资格，请值班站长授权。", "Central cannot confirm the welfare eligibility. If the rider is entitled, the duty supervisor may authorise it.")
			case err != nil:
				return SaleResult{}, err
			case !st.Eligible:
				_ = s.audit(ctx, op, ActWelfareExchange, c.token, OutcomeDenied, "not_eligible key="+c.key)
				zh, en := st.ReasonZH, st.Reason
				if zh == "" {
					zh, en = "中心系统未登记福利资格。", "No welfare eligibility on record."
				}
				return SaleResult{}, NewError(CodeConflict, "not_eligible", "不能兑换福利票："+zh, "No welfare ticket: "+en)
			}
		}
		rec, err := s.newRecord(ctx, op, c, KindWelfare, in.DestCode, 0)
		if err != nil {
			return SaleResult{}, err
		}
		rec.Payment, rec.Assisted = PayWelfare, in.Assisted
		if rec.OverrideBy == "" {
			rec.OverrideBy = override
		}
		return s.issue(ctx, op, rec)
	})
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// RecordManualCheck records a manual health check on the purchase c (made
// by CheckBuyer or ManualOnly): what was shown, the decision and the
// reason, with the policy window applied to the certificate time. A pass
// that the policy does not allow (red or yellow code, certificate outside
// the window or in the future) is refused as CodeInvalid with that reason
// and nothing is recorded: the clerk records a refusal instead. The
// returned check is c updated: after a pass its decision is OK (health
// source "manual"), so the clerk can go straight on to a sale.
//
// The record keeps the subject as token and masked document only; what was
// shown is sealed. The same in.Key twice records once.
func (s *Sales) RecordManualCheck(ctx context.Context, op Operator, c BuyerCheck, in ManualCheckInput) (ManualCheckResult, BuyerCheck, error) {
	if c.IsZero() {
		return ManualCheckResult{}, c, errNoID()
	}
	if in.Key == "" {
		return ManualCheckResult{}, c, errNoKey()
	}
	if !c.manualOK && c.decision != BuyerOK {
		return ManualCheckResult{}, c, NewError(CodeConflict, "manual_not_allowed",
			"此情况不能通过人工查验放行："+c.expl.ZH, "A manual check cannot admit this rider: "+c.expl.EN)
	}
	now := s.cfg.Clock.Now()
	a := AssessNAT(in.NATTime, s.cfg.Policy().NATWindow, now)
	if err := validateManual(in, a); err != nil {
		return ManualCheckResult{Assessment: a}, c, err
	}
	sh, ok, err := s.cfg.Store.CurrentShift(ctx)
	if err != nil {
		return ManualCheckResult{Assessment: a}, c, err
	}
	if !ok {
		return ManualCheckResult{Assessment: a}, c, errNoShift()
	}
	shown := ManualShown{Color: in.ShownColor, Issuer: strings.TrimSpace(in.Issuer)}
	if !in.NATTime.IsZero() {
		t := in.NATTime.UTC()
		shown.NATTime = &t
	}
	sealed, _ := json.Marshal(shown)
	rec := ManualCheckRecord{Key: in.Key, Operator: op.ID, ShiftID: sh.ID, SubjectToken: c.token, SubjectMasked: c.masked,
		Decision: in.Decision, Reason: in.Reason, Window: a.State, Shown: Sensitive(sealed), Checked: now}
	body, _ := json.Marshal(ManualCheckWire{ID: in.Key, StationID: s.cfg.Station, Operator: op.ID, SubjectToken: c.token,
		SubjectDocMasked: c.masked, Decision: string(in.Decision), Reason: in.Reason, CheckedAt: now.UTC()})
	outcome := OutcomeSuccess
	created, err := s.cfg.Store.SaveManualCheck(ctx, rec, ForwardItem{Kind: ForwardManualCheck, Key: in.Key, Body: body, Personal: Sensitive(sealed)},
		AuditEntry{Time: now, Operator: op.ID, Action: ActManualCheck, Subject: "doc:" + c.token, Outcome: outcome,
			Detail: "decision=" + string(in.Decision) + " window=" + string(a.State) + " purchase=" + c.key + " key=" + in.Key})
	if err != nil {
		return ManualCheckResult{Assessment: a}, c, s.storeErr(err, "人工查验记录未能保存。", "The manual check could not be saved.")
	}
	if created && s.cfg.Forwarded != nil {
		s.cfg.Forwarded()
	}
	next := c
	if in.Decision == ManualPass {
		next.decision, next.reason, next.at = BuyerOK, "manual_check_passed", now
		next.health = HealthStatus{Color: in.ShownColor, LastNegative: in.NATTime, AsOf: now}
		next.healthFrom = HealthFromManual
		next.expl = Explanation{Reason: next.reason, ZH: "人工查验通过：" + a.ZH, EN: "Manual check passed: " + a.EN,
			NextZH: "可以继续售票。", NextEN: "You can go on to the sale."}
	} else {
		next.decision, next.reason, next.manualOK = BuyerRefused, in.Reason, false
		next.expl = Explanation{Reason: in.Reason, ZH: "人工查验未通过：" + ManualReasonLabel(in.Reason, LangZH) + "。",
			EN: "Manual check refused: " + ManualReasonLabel(in.Reason, LangEN) + ".", NextZH: "不能售票。", NextEN: "No ticket can be sold."}
	}
	return ManualCheckResult{Record: rec, Assessment: a, Created: created}, next, nil
}

// Incomplete lists the sales whose token was not (known to be) written:
// interrupted by a lifted token, a reader error or a crash.
func (s *Sales) Incomplete(ctx context.Context) ([]SaleRecord, error) {
	return s.cfg.Store.IncompleteSales(ctx)
}

// ResumeSale continues an incomplete sale with its recorded fare: with the
// token it was being written to on the reader, a written token is adopted
// (no second write); with a blank token, the ticket is written. Errors as
// Sell; CodeNotFound for an unknown key, CodeConflict "sale_done" for a
// sale that is not incomplete.
func (s *Sales) ResumeSale(ctx context.Context, op Operator, key string) (SaleResult, error) {
	return s.once.do(ctx, key, func() (SaleResult, error) {
		rec, found, err := s.cfg.Store.Sale(ctx, key)
		if err != nil {
			return SaleResult{}, err
		}
		if !found {
			return SaleResult{}, NewError(CodeNotFound, "sale_not_found", "找不到这笔销售。", "No such sale.")
		}
		if rec.State != SaleIssuing && rec.State != SaleIssueFailed {
			return SaleResult{}, NewError(CodeConflict, "sale_done", "这笔销售不需要处理。", "This sale needs nothing more.")
		}
		return s.issue(ctx, op, rec)
	})
}

// VoidSale closes an incomplete sale without a ticket (the rider left, the
// token is lost; money is returned per station rules). Supervisors only.
func (s *Sales) VoidSale(ctx context.Context, op Operator, key, reason string) error {
	if op.Role != RoleSupervisor {
		return NewError(CodeUnauthorized, "not_supervisor", "只有值班站长可以作废未完成的销售。", "Only the duty supervisor can void an incomplete sale.")
	}
	if reason == "" {
		reason = "voided"
	}
	rec, found, err := s.cfg.Store.Sale(ctx, key)
	if err != nil {
		return err
	}
	if !found {
		return NewError(CodeNotFound, "sale_not_found", "找不到这笔销售。", "No such sale.")
	}
	return s.cfg.Store.VoidSale(ctx, key, reason, AuditEntry{Operator: op.ID, Action: ActTicketVoid, Subject: "doc:" + rec.BuyerToken,
		Outcome: OutcomeSuccess, Detail: "reason=" + reason + " token=" + MaskCardNumber(rec.TokenSerial) + " key=" + key})
}

// ReceiptLines returns the receipt the screen shows (and a printer would
// print): kind, route, fare, payment, token, time, the masked document.
func (r SaleRecord) ReceiptLines(l Lang, fares *FareTable) []string {
	route := ""
	if fares != nil {
		route = fares.StationName(l)
		if d, ok := fares.Destination(r.DestCode); ok {
			route += " → " + d.Name(l)
		} else {
			route += " → " + langPick(l, "按票价", "by fare")
		}
	}
	money := Yuan(r.FareFen)
	if l == LangEN {
		money = YuanEN(r.FareFen)
	}
	lines := []string{
		r.Kind.Label(l) + "   " + route,
		langPick(l, "票价 ", "Fare ") + money + "   " + r.Payment.Label(l),
		langPick(l, "票卡 ", "Token ") + MaskCardNumber(r.TokenSerial) + "   " + langPick(l, "当日有效至 ", "valid until ") + r.ValidUntil.In(chinaTime).Format("2006-01-02 15:04"),
		langPick(l, "购票人证件 ", "Buyer's document ") + r.BuyerMasked + "   " + r.Issued.In(chinaTime).Format("2006-01-02 15:04:05"),
	}
	if r.Assisted {
		lines = append(lines, langPick(l, "协助购票（老人/儿童）", "Assisted purchase (elderly rider or child)"))
	}
	if r.OverrideBy != "" {
		lines = append(lines, langPick(l, "站长授权 ", "Authorised by supervisor ")+r.OverrideBy)
	}
	return lines
}
