package verify

import (
	"net"
	"sync"
	"time"
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

type cachedAnswer struct {
	body []byte
	exp  time.Time
}

func newAnswerCache(size int, ttl time.Duration) *answerCache {
	return &answerCache{m: make(map[answerKey]cachedAnswer, size), ring: make([]answerKey, size), ttl: ttl}
}

func (c *answerCache) get(key answerKey, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.m[key]
	if !ok || now.After(a.exp) {
		return nil, false
	}
	return a.body, true
}

func (c *answerCache) put(key answerKey, body []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.ring[c.pos]; old != (answerKey{}) {
		delete(c.m, old)
	}
	c.ring[c.pos] = key
	c.pos = (c.pos + 1) % len(c.ring)
	c.m[key] = cachedAnswer{body: body, exp: now.Add(c.ttl)}
}

// limitListener caps concurrent connections: Accept blocks while max are
// open, so a flood of idle or slow connections cannot exhaust the process.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func newLimitListener(l net.Listener, max int) net.Listener {
	return &limitListener{Listener: l, sem: make(chan struct{}, max)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
