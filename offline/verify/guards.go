package verify

import (
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// nonceCache remembers (gate, nonce) pairs for at least ttl (the signature
// window on both sides), so a captured request cannot be replayed. It is
// sharded by the nonce's first byte (the nonce is random, so shards fill
// evenly and gates never wait on one lock), and each shard keeps two
// generations: when the current one is ttl old it becomes the previous one
// and the old previous one is dropped whole. Expiry therefore costs O(1)
// per request instead of sweeping the map under a lock. A pair is kept
// between ttl and 2·ttl. It is bounded: when a shard is full, new requests
// are refused (fail closed) rather than forgetting nonces early.
type nonceCache struct {
	shards   [nonceShards]nonceShard
	perShard int
	ttl      time.Duration
}

const nonceShards = 16

type nonceKey struct {
	gate  string
	nonce [16]byte
}

type nonceShard struct {
	mu        sync.Mutex
	cur, prev map[nonceKey]struct{}
	start     time.Time // when cur began
	_         [64]byte  // keep shards on separate cache lines
}

func newNonceCache(max int, ttl time.Duration) *nonceCache {
	c := &nonceCache{perShard: (max + nonceShards - 1) / nonceShards, ttl: ttl}
	for i := range c.shards {
		c.shards[i].cur = map[nonceKey]struct{}{}
		c.shards[i].prev = map[nonceKey]struct{}{}
	}
	return c
}

// add records (gate, nonce) at now; false means it was seen within ttl or
// the cache is full.
func (c *nonceCache) add(gate string, nonce [16]byte, now time.Time) bool {
	s := &c.shards[nonce[0]%nonceShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if age := now.Sub(s.start); age >= c.ttl {
		if age >= 2*c.ttl {
			clear(s.cur) // everything in both generations is older than ttl
		}
		clear(s.prev)
		s.cur, s.prev = s.prev, s.cur
		s.start = now
	}
	k := nonceKey{gate, nonce}
	if _, ok := s.cur[k]; ok {
		return false
	}
	if _, ok := s.prev[k]; ok {
		return false
	}
	if len(s.cur)+len(s.prev) >= c.perShard {
		return false
	}
	s.cur[k] = struct{}{}
	return true
}

// answerCache keeps the answer body per (gate, request id) so a legitimate
// retry gets the same answer without a second look-up or a second event.
type answerCache struct {
	mu   sync.Mutex
	m    map[answerKey]cachedAnswer
	ring []answerKey
	pos  int
	ttl  time.Duration
}

type answerKey struct{ gate, reqID string }

// cachedAnswer is an answer with the SHA-256 of the request body it
// answered: the idempotency key is (gate, request id, body hash), so a
// reused request id with another body is told apart (409), never given
// this answer.
type cachedAnswer struct {
	body []byte
	bh   [32]byte
	exp  time.Time
}

func newAnswerCache(size int, ttl time.Duration) *answerCache {
	return &answerCache{m: make(map[answerKey]cachedAnswer, size), ring: make([]answerKey, size), ttl: ttl}
}

func (c *answerCache) get(key answerKey, now time.Time) (cachedAnswer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.m[key]
	if !ok || now.After(a.exp) {
		return cachedAnswer{}, false
	}
	return a, true
}

func (c *answerCache) put(key answerKey, body []byte, bh [32]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.ring[c.pos]; old != (answerKey{}) {
		delete(c.m, old)
	}
	c.ring[c.pos] = key
	c.pos = (c.pos + 1) % len(c.ring)
	c.m[key] = cachedAnswer{body: body, bh: bh, exp: now.Add(c.ttl)}
}

// tokenBucket is a small rate limiter (rate tokens a second, up to burst).
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate, burst float64) *tokenBucket {
	return &tokenBucket{rate: rate, burst: burst, tokens: burst}
}

func (b *tokenBucket) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// rejectLog writes one warning per rejected request, rate-limited so a
// flood of forged requests cannot fill the disk: lines beyond the bucket
// are counted and the count is reported in the next line written.
type rejectLog struct {
	bucket     *tokenBucket
	mu         sync.Mutex
	suppressed int64
}

func (l *rejectLog) log(log *slog.Logger, now time.Time, gate, reason, remote string) {
	if !l.bucket.allow(now) {
		l.mu.Lock()
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.mu.Lock()
	n := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = "?"
	}
	log.Warn("gate request rejected", "gate", gate, "reason", reason, "from", host, "suppressed", strconv.FormatInt(n, 10))
}

func netutilLimit(l net.Listener, n int) net.Listener { return netutil.LimitListener(l, n) }
