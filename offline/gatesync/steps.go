package gatesync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"stationdesk/app"
	"stationdesk/offline/cache"
	"stationdesk/offline/syncwire"
)

// SyncOnce does one full sync step: manifest, then either deltas or a cold
// snapshot build and swap, then the anti-entropy check with per-bucket
// repair. It is safe to call concurrently with lookups; concurrent calls
// to SyncOnce/HotOnce are serialised.
func (c *Client) SyncOnce(ctx context.Context) error {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	c.setProgress(app.SyncProgress{Phase: app.SyncManifest})
	st, err := c.cfg.Cache.State(ctx)
	if err != nil {
		return err
	}
	m, env, err := c.fetchManifest(ctx, st.AppliedSeq)
	if err != nil {
		return err
	}
	if !m.ServerTime.IsZero() {
		d := m.ServerTime.Sub(c.now())
		c.skew.Store(&d)
		if d > app.GateClockWindow || d < -app.GateClockWindow {
			c.log.Warn("station clock differs from central", "skew", d.Round(time.Second))
		}
	}
	if err := c.ensureKey(ctx, m, env); err != nil {
		return err
	}
	if c.needSnapshot(st, m) {
		if err := c.coldStart(ctx, m); err != nil {
			return err
		}
		st, err = c.cfg.Cache.State(ctx)
		if err != nil {
			return err
		}
	} else if err := c.applySegments(ctx, c.cfg.Cache, m, st.AppliedSeq, m.Segments); err != nil {
		if errors.Is(err, cache.ErrGap) {
			// Segments no longer chain: the next step takes a snapshot.
			c.log.Warn("segment gap; snapshot needed")
		}
		return err
	}
	if err := c.cfg.Cache.MarkFresh(ctx, m.SegmentsTo, m.IssuedAt); err != nil {
		return err
	}
	if err := c.antiEntropy(ctx, m); err != nil {
		return err
	}
	c.setProgress(app.SyncProgress{Phase: app.SyncIdle, Detail: "up to date"})
	return nil
}

// needSnapshot: never built, a different card key or bucket layout, or the
// segments no longer reach back to the applied sequence.
func (c *Client) needSnapshot(st cache.State, m *syncwire.Manifest) bool {
	if st.SnapshotSeq == 0 || st.CardKeyID != m.CardKeyID || st.PersonShift != m.PersonShift {
		return true
	}
	if st.AppliedSeq >= m.SegmentsTo {
		return false
	}
	return len(m.Segments) == 0 || m.Segments[0].From > st.AppliedSeq
}

func (c *Client) applySegments(ctx context.Context, dst *cache.Cache, m *syncwire.Manifest, applied uint64, refs []syncwire.SegmentRef) error {
	var total, done int64
	for _, r := range refs {
		if r.To > applied {
			total += r.Rows
		}
	}
	start := c.now()
	for i := range refs {
		r := refs[i]
		if r.To <= applied {
			continue
		}
		data, err := c.fetchObject(ctx, syncwire.ObjectPath(0, nil, &r), r.SHA256, r.Bytes)
		if err != nil {
			return err
		}
		seg, err := syncwire.DecodeSegment(data)
		if err != nil || seg.From != r.From || seg.To != r.To {
			return ErrDigest
		}
		if _, err := dst.ApplySegment(ctx, seg, time.Time{}); err != nil {
			return err
		}
		applied = r.To
		done += r.Rows
		c.setProgress(app.SyncProgress{Phase: app.SyncDeltas, Rows: done, Total: total, ETA: eta(start, c.now(), done, total)})
	}
	return nil
}

func eta(start, now time.Time, done, total int64) time.Duration {
	if done <= 0 || total <= done {
		return 0
	}
	el := now.Sub(start)
	return time.Duration(float64(el) / float64(done) * float64(total-done))
}

func (c *Client) buildPath() string { return filepath.Join(c.cfg.Dir, "cache.build.db") }

// coldStart builds a new cache file from the manifest's snapshot while the
// live one keeps serving, brings it up to the manifest's segments, checks
// the digests and swaps it in.
func (c *Client) coldStart(ctx context.Context, m *syncwire.Manifest) error {
	path := c.buildPath()
	id := fmt.Sprintf("snap-%d-%s-%d", m.SnapshotSeq, m.CardKeyID, m.PersonShift)
	// A finished build from an earlier run (killed before the swap)?
	if finished, err := c.finishedBuild(ctx, path, m.SnapshotSeq); err != nil {
		return err
	} else if !finished {
		if err := c.buildSnapshot(ctx, path, id, m); err != nil {
			return err
		}
	}
	built, err := cache.Open(ctx, path, c.builtOpts())
	if err != nil {
		return err
	}
	bst, err := built.State(ctx)
	if err == nil {
		err = c.applySegments(ctx, built, m, bst.AppliedSeq, m.Segments)
	}
	if err == nil {
		err = built.MarkFresh(ctx, m.SegmentsTo, m.IssuedAt)
	}
	var bad []int
	if err == nil {
		bst, err = built.State(ctx)
		if err == nil && bst.AppliedSeq == m.SegmentsTo {
			bad, err = mismatches(ctx, built, m)
		}
	}
	if cerr := built.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		// The snapshot plus segments disagree with central's digests: do
		// not serve it. Discard and let the next step rebuild.
		_ = os.Remove(path)
		return app.NewError(app.CodeInvalid, "snapshot_digest", "快照校验失败", fmt.Sprintf("snapshot disagrees with manifest in %d buckets", len(bad)))
	}
	if err := c.cfg.Cache.Swap(ctx, path); err != nil {
		return err
	}
	c.log.Info("gate cache snapshot swapped in", "snapshot_seq", m.SnapshotSeq, "applied_seq", m.SegmentsTo)
	return nil
}

// builtOpts are the options of a snapshot file opened before its swap: it
// answers no gate, so it loads no memory index.
func (c *Client) builtOpts() cache.Options {
	o := c.cfg.CacheOpts
	o.NoMemIndex = true
	return o
}

func (c *Client) finishedBuild(ctx context.Context, path string, snapSeq uint64) (bool, error) {
	if _, err := os.Stat(path); err != nil {
		return false, nil
	}
	// A WAL may be left by a catch-up killed mid-segment: opening the file
	// recovers it. An unfinished build still carries its build id.
	b, err := cache.Open(ctx, path, c.builtOpts())
	if err != nil {
		return false, nil
	}
	st, err := b.State(ctx)
	b.Close()
	return err == nil && st.BuildID == "" && st.SnapshotSeq == snapSeq, nil
}

func (c *Client) buildSnapshot(ctx context.Context, path, id string, m *syncwire.Manifest) error {
	b, err := cache.OpenBuilder(ctx, path, id, m.CardKeyID, m.PersonShift, c.cfg.CacheOpts)
	if err != nil {
		return err
	}
	defer b.Close()
	var total int64
	for _, r := range m.Snapshot {
		total += r.Rows
	}
	start := c.now()
	startRows := b.Rows()
	// Download, digest check and decoding of the next chunks overlap the
	// insert of the current one (a second core does the first part).
	type fetched struct {
		ref     syncwire.ChunkRef
		name    string
		kind    syncwire.ChunkKind
		cards   []syncwire.Card
		persons []syncwire.Person
		err     error
	}
	var todo []int
	for i := range m.Snapshot {
		if !b.Done(m.Snapshot[i].Kind + "/" + strconv.Itoa(m.Snapshot[i].Bucket)) {
			todo = append(todo, i)
		}
	}
	fctx, cancel := context.WithCancel(ctx)
	ch := make(chan fetched, 2)
	go func() {
		defer close(ch)
		for _, i := range todo {
			r := m.Snapshot[i]
			f := fetched{ref: r, name: r.Kind + "/" + strconv.Itoa(r.Bucket)}
			data, err := c.fetchObject(fctx, syncwire.ObjectPath(m.SnapshotSeq, &r, nil), r.SHA256, r.Bytes)
			if err != nil {
				f.err = err
			} else if f.kind, f.cards, f.persons, err = syncwire.DecodeChunk(data); err != nil {
				f.err = ErrDigest
			}
			select {
			case ch <- f:
			case <-fctx.Done():
				return
			}
			if f.err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range ch { // wait until the fetcher has stopped
		}
	}()
	for f := range ch {
		if f.err != nil {
			return f.err
		}
		var err error
		switch {
		case f.ref.Kind == "cards" && f.kind == syncwire.KindCards:
			err = b.AddCards(ctx, f.name, f.cards)
		case f.ref.Kind == "persons" && f.kind == syncwire.KindPersons:
			err = b.AddPersons(ctx, f.name, f.persons)
		default:
			err = ErrDigest
		}
		if err != nil {
			return err
		}
		rows := b.Rows()
		c.setProgress(app.SyncProgress{Phase: app.SyncSnapshot, Rows: rows, Total: total, Bytes: f.ref.Bytes,
			ETA: eta(start, c.now(), rows-startRows, total-startRows), Detail: "building new cache file"})
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.Finish(ctx, m.SnapshotSeq)
}

// mismatches compares a cache's digests with the manifest's; it returns
// bucket ids (cards 0..255, persons 256..511).
func mismatches(ctx context.Context, cc *cache.Cache, m *syncwire.Manifest) ([]int, error) {
	cd, pd, err := cc.Digests(ctx)
	if err != nil {
		return nil, err
	}
	var bad []int
	for i := 0; i < syncwire.Buckets; i++ {
		if cd[i] != m.CardDigests[i] {
			bad = append(bad, i)
		}
	}
	for i := 0; i < syncwire.Buckets; i++ {
		if pd[i] != m.PersonDigest[i] {
			bad = append(bad, syncwire.Buckets+i)
		}
	}
	return bad, nil
}

// antiEntropy compares digests once the cache is exactly at the manifest's
// segment head with no hot row ahead, and repairs only the buckets that
// disagree: the bucket's snapshot chunk plus the later segments.
func (c *Client) antiEntropy(ctx context.Context, m *syncwire.Manifest) error {
	st, err := c.cfg.Cache.State(ctx)
	if err != nil {
		return err
	}
	if st.AppliedSeq != m.SegmentsTo || st.HotSeq > st.AppliedSeq || st.AppliedSeq < m.SnapshotSeq {
		return nil
	}
	bad, err := mismatches(ctx, c.cfg.Cache, m)
	if err != nil || len(bad) == 0 {
		return err
	}
	c.log.Warn("gate cache digest mismatch, repairing buckets", "buckets", len(bad))
	full, _, err := c.fetchManifest(ctx, m.SnapshotSeq)
	if err != nil {
		return err
	}
	if full.SnapshotSeq != m.SnapshotSeq || full.SegmentsTo != m.SegmentsTo {
		return nil // central moved on; the next step re-checks
	}
	var later []syncwire.Segment
	for i := range full.Segments {
		r := full.Segments[i]
		data, err := c.fetchObject(ctx, syncwire.ObjectPath(0, nil, &r), r.SHA256, r.Bytes)
		if err != nil {
			return err
		}
		seg, err := syncwire.DecodeSegment(data)
		if err != nil {
			return ErrDigest
		}
		later = append(later, seg)
	}
	for n, id := range bad {
		kind, bucket, kname := 0, id, "cards"
		if id >= syncwire.Buckets {
			kind, bucket, kname = 1, id-syncwire.Buckets, "persons"
		}
		var ref *syncwire.ChunkRef
		for i := range full.Snapshot {
			if full.Snapshot[i].Kind == kname && full.Snapshot[i].Bucket == bucket {
				ref = &full.Snapshot[i]
			}
		}
		if ref == nil {
			return ErrDigest
		}
		data, err := c.fetchObject(ctx, syncwire.ObjectPath(full.SnapshotSeq, ref, nil), ref.SHA256, ref.Bytes)
		if err != nil {
			return err
		}
		_, cards, persons, err := syncwire.DecodeChunk(data)
		if err != nil {
			return ErrDigest
		}
		if _, err := c.cfg.Cache.RepairBucket(ctx, kind, bucket, cards, persons, later); err != nil {
			return err
		}
		c.setProgress(app.SyncProgress{Phase: app.SyncRepair, Rows: int64(n + 1), Total: int64(len(bad)), Detail: "repairing buckets"})
	}
	bad, err = mismatches(ctx, c.cfg.Cache, m)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return app.NewError(app.CodeInternal, "repair_failed", "缓存修复失败", fmt.Sprintf("%d buckets still disagree after repair", len(bad)))
	}
	return nil
}

// HotOnce fetches the signed hot list and applies it.
func (c *Client) HotOnce(ctx context.Context) error {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	st, err := c.cfg.Cache.State(ctx)
	if err != nil {
		return err
	}
	if st.SnapshotSeq == 0 {
		return nil // nothing to patch yet
	}
	after := max(st.AppliedSeq, st.HotSeq)
	env, err := c.get(ctx, "/hot?after="+strconv.FormatUint(after, 10))
	if err != nil {
		return err
	}
	payload, err := syncwire.Open(c.cfg.PinnedKey, "hot", env)
	if err != nil {
		return ErrSignature
	}
	var h syncwire.HotList
	if err := jsonUnmarshal(payload, &h); err != nil {
		return ErrDigest
	}
	seg, err := syncwire.DecodeSegment(h.Rows)
	if err != nil {
		return ErrDigest
	}
	if len(seg.Cards)+len(seg.Persons) == 0 {
		return nil
	}
	_, err = c.cfg.Cache.ApplyHot(ctx, seg)
	return err
}
