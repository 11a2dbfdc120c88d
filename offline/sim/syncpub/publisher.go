package syncpub

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/bits"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"stationdesk/app"
	"stationdesk/offline/syncwire"
)

// Config configures a Publisher.
type Config struct {
	Source Source
	Keys   Keys
	Clock  app.Clock
	Logger *slog.Logger
	Policy app.Policy
	// SegmentWindow is the delta window (default 1 min): changes are cut
	// into a segment when a window boundary has passed.
	SegmentWindow time.Duration
	// QRTTL is the validity of issued ride codes (default 60 s).
	QRTTL time.Duration
	// MaxSegments triggers a new snapshot when more segments than this
	// follow the current one (default 1440, one day of minutes).
	MaxSegments int
}

type snapshot struct {
	seq    uint64
	shift  uint
	chunks map[string][]byte
	refs   []syncwire.ChunkRef
}

type segment struct {
	ref  syncwire.SegmentRef
	data []byte
}

// Publisher publishes sync objects from a Source. It is safe for
// concurrent use; Refresh pulls new changes (it is also called by every
// manifest and hot-list request, at most once per second).
type Publisher struct {
	cfg Config

	mu          sync.Mutex
	snap, prev  *snapshot
	cardsBase   []syncwire.Card
	cardsOver   map[syncwire.CardHash]syncwire.Card
	persBase    []syncwire.Person
	persOver    map[uint64]syncwire.Person
	cardD       [syncwire.Buckets]syncwire.Digest
	persD       [syncwire.Buckets]syncwire.Digest
	segments    []segment
	segByName   map[string]*segment
	segmentsTo  uint64
	head        uint64
	pendC       []syncwire.Card
	pendP       []syncwire.Person
	windowStart time.Time
	lastRefresh time.Time
}

// New loads the Source's snapshot (hashing and sorting every card) and
// returns a Publisher. For a large synthetic city this takes a while and
// about 100 bytes of memory per card.
func New(ctx context.Context, cfg Config) (*Publisher, error) {
	if cfg.Source == nil {
		return nil, fmt.Errorf("syncpub: nil source")
	}
	if cfg.Clock == nil {
		cfg.Clock = app.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Policy.NATWindow == 0 {
		cfg.Policy = app.DefaultPolicy()
	}
	if cfg.SegmentWindow == 0 {
		cfg.SegmentWindow = time.Minute
	}
	if cfg.QRTTL == 0 {
		cfg.QRTTL = 60 * time.Second
	}
	if cfg.MaxSegments == 0 {
		cfg.MaxSegments = 1440
	}
	if cfg.Keys.ManifestPrivate == nil {
		cfg.Keys = DemoKeys()
	}
	p := &Publisher{cfg: cfg, cardsOver: map[syncwire.CardHash]syncwire.Card{}, persOver: map[uint64]syncwire.Person{}, segByName: map[string]*segment{}}
	var nums []CardBinding
	var pers []syncwire.Person
	seq, err := cfg.Source.Snapshot(ctx, func(b CardBinding) error {
		if !b.Unbound {
			nums = append(nums, b)
		}
		return nil
	}, func(h PersonHealth) error {
		pers = append(pers, rowFromPerson(h, 0))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source snapshot: %w", err)
	}
	cards := hashAll(cfg.Keys.CardKey, nums, seq)
	nums = nil
	slices.SortFunc(cards, func(a, b syncwire.Card) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
	cards = slices.CompactFunc(cards, func(a, b syncwire.Card) bool { return a.Hash == b.Hash })
	for i := range pers {
		pers[i].Seq = seq
	}
	slices.SortFunc(pers, func(a, b syncwire.Person) int { return cmp.Compare(a.Person, b.Person) })
	pers = slices.CompactFunc(pers, func(a, b syncwire.Person) bool { return a.Person == b.Person })
	p.cardsBase, p.persBase = cards, pers
	p.head, p.segmentsTo = seq, seq
	p.windowStart = cfg.Clock.Now().Truncate(cfg.SegmentWindow)
	p.snap = p.buildSnapshot(seq)
	p.recomputeDigests()
	return p, nil
}

func hashAll(key []byte, nums []CardBinding, seq uint64) []syncwire.Card {
	out := make([]syncwire.Card, len(nums))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	per := (len(nums) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(nums))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := syncwire.NewCardHasher(key)
			for i := lo; i < hi; i++ {
				b := nums[i]
				out[i] = syncwire.Card{Hash: h.Hash(b.CardNumber), Person: b.Person, Seq: seq}
				if b.Blocked {
					out[i].Flags |= syncwire.FlagBlocked
				}
				if b.Unbound {
					out[i].Flags |= syncwire.FlagDeleted
				}
			}
		}()
	}
	wg.Wait()
	return out
}

func personShift(maxKey uint64) uint {
	n := bits.Len64(maxKey)
	if n <= 8 {
		return 0
	}
	return uint(n - 8)
}

// buildSnapshot encodes the base rows (overlay must be merged) as chunks.
func (p *Publisher) buildSnapshot(seq uint64) *snapshot {
	var maxP uint64
	if len(p.persBase) > 0 {
		maxP = p.persBase[len(p.persBase)-1].Person
	}
	s := &snapshot{seq: seq, shift: personShift(maxP), chunks: map[string][]byte{}}
	add := func(kind string, b int, rows int, data []byte) {
		sum := sha256.Sum256(data)
		name := syncwire.ChunkName(seq, kind, b)
		s.chunks[name] = data
		s.refs = append(s.refs, syncwire.ChunkRef{Kind: kind, Bucket: b, Rows: int64(rows), Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
	}
	i := 0
	for b := 0; b < syncwire.Buckets; b++ {
		j := i
		for j < len(p.cardsBase) && int(p.cardsBase[j].Hash[0]) == b {
			j++
		}
		add("cards", b, j-i, syncwire.EncodeCardChunk(p.cardsBase[i:j]))
		i = j
	}
	i = 0
	for b := 0; b < syncwire.Buckets; b++ {
		j := i
		for j < len(p.persBase) && syncwire.PersonBucket(p.persBase[j].Person, s.shift) == b {
			j++
		}
		add("persons", b, j-i, syncwire.EncodePersonChunk(p.persBase[i:j]))
		i = j
	}
	return s
}

func (p *Publisher) recomputeDigests() {
	p.cardD, p.persD = [syncwire.Buckets]syncwire.Digest{}, [syncwire.Buckets]syncwire.Digest{}
	for _, r := range p.cardsBase {
		p.cardD[syncwire.CardBucket(r.Hash)].Add(syncwire.CardRowHash(r))
	}
	for _, r := range p.persBase {
		p.persD[syncwire.PersonBucket(r.Person, p.snap.shift)].Add(syncwire.PersonRowHash(r))
	}
}

func (p *Publisher) getCard(h syncwire.CardHash) (syncwire.Card, bool) {
	if r, ok := p.cardsOver[h]; ok {
		return r, r.Flags&syncwire.FlagDeleted == 0
	}
	i, ok := slices.BinarySearchFunc(p.cardsBase, h, func(a syncwire.Card, h syncwire.CardHash) int { return bytes.Compare(a.Hash[:], h[:]) })
	if !ok {
		return syncwire.Card{}, false
	}
	return p.cardsBase[i], true
}

func (p *Publisher) getPerson(k uint64) (syncwire.Person, bool) {
	if r, ok := p.persOver[k]; ok {
		return r, r.Flags&syncwire.FlagDeleted == 0
	}
	i, ok := slices.BinarySearchFunc(p.persBase, k, func(a syncwire.Person, k uint64) int { return cmp.Compare(a.Person, k) })
	if !ok {
		return syncwire.Person{}, false
	}
	return p.persBase[i], true
}

func (p *Publisher) applyRows(cards []syncwire.Card, pers []syncwire.Person) {
	for _, r := range cards {
		b := syncwire.CardBucket(r.Hash)
		if old, ok := p.getCard(r.Hash); ok {
			p.cardD[b].Remove(syncwire.CardRowHash(old))
		}
		if r.Flags&syncwire.FlagDeleted == 0 {
			p.cardD[b].Add(syncwire.CardRowHash(r))
		}
		p.cardsOver[r.Hash] = r
	}
	for _, r := range pers {
		b := syncwire.PersonBucket(r.Person, p.snap.shift)
		if old, ok := p.getPerson(r.Person); ok {
			p.persD[b].Remove(syncwire.PersonRowHash(old))
		}
		if r.Flags&syncwire.FlagDeleted == 0 {
			p.persD[b].Add(syncwire.PersonRowHash(r))
		}
		p.persOver[r.Person] = r
	}
}

// Refresh pulls new changes from the Source and closes the open segment
// when its window has passed.
func (p *Publisher) Refresh(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshLocked(ctx)
}

func (p *Publisher) refreshLocked(ctx context.Context) error {
	now := p.cfg.Clock.Now()
	p.lastRefresh = now
	head, err := p.cfg.Source.Changes(ctx, p.head, func(c Change) error {
		if c.Seq <= p.head {
			return nil
		}
		switch {
		case c.Card != nil:
			p.pendC = append(p.pendC, rowFromBinding(p.cfg.Keys.CardKey, *c.Card, c.Seq))
		case c.Person != nil:
			p.pendP = append(p.pendP, rowFromPerson(*c.Person, c.Seq))
		}
		p.head = c.Seq
		return nil
	})
	if err != nil {
		return fmt.Errorf("source changes: %w", err)
	}
	if head > p.head {
		p.head = head
	}
	if !now.Before(p.windowStart.Add(p.cfg.SegmentWindow)) {
		p.closeSegmentLocked()
		p.windowStart = now.Truncate(p.cfg.SegmentWindow)
	}
	if len(p.segments) > p.cfg.MaxSegments {
		p.resnapshotLocked()
	}
	return nil
}

// CloseSegment cuts the pending changes into a segment now (tests, and the
// simulator's "publish now" switch).
func (p *Publisher) CloseSegment(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.refreshLocked(ctx); err != nil {
		return err
	}
	p.closeSegmentLocked()
	return nil
}

func latestCards(rows []syncwire.Card) []syncwire.Card {
	m := make(map[syncwire.CardHash]syncwire.Card, len(rows))
	for _, r := range rows {
		if o, ok := m[r.Hash]; !ok || r.Seq > o.Seq {
			m[r.Hash] = r
		}
	}
	out := make([]syncwire.Card, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b syncwire.Card) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
	return out
}

func latestPersons(rows []syncwire.Person) []syncwire.Person {
	m := make(map[uint64]syncwire.Person, len(rows))
	for _, r := range rows {
		if o, ok := m[r.Person]; !ok || r.Seq > o.Seq {
			m[r.Person] = r
		}
	}
	out := make([]syncwire.Person, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b syncwire.Person) int { return cmp.Compare(a.Person, b.Person) })
	return out
}

func (p *Publisher) closeSegmentLocked() {
	if p.head <= p.segmentsTo {
		return
	}
	seg := syncwire.Segment{From: p.segmentsTo, To: p.head, Cards: latestCards(p.pendC), Persons: latestPersons(p.pendP)}
	data := syncwire.EncodeSegment(seg)
	sum := sha256.Sum256(data)
	s := &segment{ref: syncwire.SegmentRef{Window: p.windowStart, From: seg.From, To: seg.To, Rows: int64(len(seg.Cards) + len(seg.Persons)),
		Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, data: data}
	p.segments = append(p.segments, *s)
	p.segByName[syncwire.SegmentName(seg.From, seg.To)] = s
	p.applyRows(seg.Cards, seg.Persons)
	p.segmentsTo = p.head
	p.pendC, p.pendP = nil, nil
}

// Resnapshot makes a new snapshot at the last closed segment (the previous
// snapshot stays available, so stations in the middle of a download can
// finish it and catch up by segments).
func (p *Publisher) Resnapshot(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resnapshotLocked()
	return nil
}

func (p *Publisher) resnapshotLocked() {
	// Merge the overlay into the base.
	cards := make([]syncwire.Card, 0, len(p.cardsBase)+len(p.cardsOver))
	for _, r := range p.cardsBase {
		if _, ok := p.cardsOver[r.Hash]; !ok {
			cards = append(cards, r)
		}
	}
	for _, r := range p.cardsOver {
		if r.Flags&syncwire.FlagDeleted == 0 {
			cards = append(cards, r)
		}
	}
	slices.SortFunc(cards, func(a, b syncwire.Card) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
	pers := make([]syncwire.Person, 0, len(p.persBase)+len(p.persOver))
	for _, r := range p.persBase {
		if _, ok := p.persOver[r.Person]; !ok {
			pers = append(pers, r)
		}
	}
	for _, r := range p.persOver {
		if r.Flags&syncwire.FlagDeleted == 0 {
			pers = append(pers, r)
		}
	}
	slices.SortFunc(pers, func(a, b syncwire.Person) int { return cmp.Compare(a.Person, b.Person) })
	p.cardsBase, p.persBase = cards, pers
	p.cardsOver, p.persOver = map[syncwire.CardHash]syncwire.Card{}, map[uint64]syncwire.Person{}
	p.prev = p.snap
	p.snap = p.buildSnapshot(p.segmentsTo)
	p.recomputeDigests()
	// Segments before the previous snapshot are no longer needed.
	keep := p.segments[:0]
	for _, s := range p.segments {
		if s.ref.To > p.prev.seq {
			keep = append(keep, s)
		} else {
			delete(p.segByName, syncwire.SegmentName(s.ref.From, s.ref.To))
		}
	}
	p.segments = keep
}

// Head returns the newest change seq seen and the last seq covered by a
// closed segment.
func (p *Publisher) Head() (head, segmentsTo uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.head, p.segmentsTo
}

// Manifest returns the current manifest (segments after `after`).
func (p *Publisher) Manifest(after uint64) syncwire.Manifest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.manifestLocked(after)
}

func (p *Publisher) manifestLocked(after uint64) syncwire.Manifest {
	now := p.cfg.Clock.Now()
	pol := p.cfg.Policy
	m := syncwire.Manifest{
		Version: 1, IssuedAt: now, ServerTime: now, Seq: p.head, CardKeyID: p.cfg.Keys.CardKeyID,
		PersonShift: p.snap.shift, SnapshotSeq: p.snap.seq, Snapshot: p.snap.refs, SegmentsTo: p.segmentsTo,
		CardDigests: p.cardD[:], PersonDigest: p.persD[:],
		Issuers: []syncwire.Issuer{{ID: p.cfg.Keys.QRIssuer, PublicKey: p.cfg.Keys.QRPublic}},
		Policy: syncwire.ManifestPolicy{NATWindowS: int64(pol.NATWindow / time.Second), CacheWarnAfterS: int64(pol.CacheWarnAfter / time.Second),
			CacheManualAfterS: int64(pol.CacheManualAfter / time.Second), QRSkewS: 30},
	}
	for _, s := range p.segments {
		if s.ref.To > after {
			m.Segments = append(m.Segments, s.ref)
		}
	}
	return m
}

// IssueQR issues a demo ride code for person, valid for QRTTL from now.
func (p *Publisher) IssueQR(person uint64, now time.Time) string {
	return app.SignRideQR(p.cfg.Keys.QRPrivate, p.cfg.Keys.QRIssuer, person, now, p.cfg.QRTTL)
}

func isRiskRaising(c syncwire.Card) bool { return c.Flags&syncwire.FlagBlocked != 0 }

func isRiskRaisingP(r syncwire.Person) bool {
	return r.Color == syncwire.ColorRed || r.Color == syncwire.ColorYellow
}

// Hot returns the risk-raising pending changes with seq > after.
func (p *Publisher) Hot(after uint64) syncwire.HotList {
	p.mu.Lock()
	defer p.mu.Unlock()
	var cs []syncwire.Card
	var ps []syncwire.Person
	for _, r := range p.pendC {
		if r.Seq > after && isRiskRaising(r) {
			cs = append(cs, r)
		}
	}
	for _, r := range p.pendP {
		if r.Seq > after && isRiskRaisingP(r) {
			ps = append(ps, r)
		}
	}
	from := max(after, p.segmentsTo)
	to := max(from, p.head)
	seg := syncwire.Segment{From: from, To: to, Cards: latestCards(cs), Persons: latestPersons(ps)}
	return syncwire.HotList{IssuedAt: p.cfg.Clock.Now(), From: from, To: to, Rows: syncwire.EncodeSegment(seg)}
}

// Handler serves the sync objects. Mount it with
// http.StripPrefix("/v1/sync", p.Handler()) at "/v1/sync/". Routes:
//
//	GET /manifest?after=SEQ          signed manifest (syncwire.Signed, kind "manifest")
//	GET /hot?after=SEQ               signed hot list (kind "hot")
//	GET /snapshot/{seq}/{kind}/{b}   snapshot chunk (Range supported)
//	GET /segment/{from}-{to}         delta segment (Range supported)
//	GET /cardkey                     {"key_id","key"} — the card-hash key
func (p *Publisher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /manifest", func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		p.mu.Lock()
		if p.cfg.Clock.Now().Sub(p.lastRefresh) >= time.Second {
			if err := p.refreshLocked(r.Context()); err != nil {
				p.mu.Unlock()
				p.cfg.Logger.Warn("sync refresh", "err", err)
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
		}
		m := p.manifestLocked(after)
		p.mu.Unlock()
		body, _ := json.Marshal(m)
		writeSigned(w, syncwire.Sign(p.cfg.Keys.ManifestPrivate, syncwire.KeyID(p.cfg.Keys.ManifestPublic), "manifest", body))
	})
	mux.HandleFunc("GET /hot", func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		if err := p.Refresh(r.Context()); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		body, _ := json.Marshal(p.Hot(after))
		writeSigned(w, syncwire.Sign(p.cfg.Keys.ManifestPrivate, syncwire.KeyID(p.cfg.Keys.ManifestPublic), "hot", body))
	})
	mux.HandleFunc("GET /snapshot/{seq}/{kind}/{b}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("seq") + "/" + r.PathValue("kind") + "/" + r.PathValue("b")
		p.mu.Lock()
		var data []byte
		for _, s := range []*snapshot{p.snap, p.prev} {
			if s != nil && data == nil {
				data = s.chunks[name]
			}
		}
		p.mu.Unlock()
		if data == nil {
			http.Error(w, "gone", http.StatusGone)
			return
		}
		serveObject(w, r, data)
	})
	mux.HandleFunc("GET /segment/{name}", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		s := p.segByName[r.PathValue("name")]
		p.mu.Unlock()
		if s == nil {
			http.Error(w, "gone", http.StatusGone)
			return
		}
		serveObject(w, r, s.data)
	})
	mux.HandleFunc("GET /cardkey", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{"key_id": p.cfg.Keys.CardKeyID, "key": p.cfg.Keys.CardKey})
	})
	return mux
}

func writeSigned(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func serveObject(w http.ResponseWriter, r *http.Request, data []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}
