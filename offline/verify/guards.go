package verify

import (
	"net"
	"sync"
	"time"
)

// nonceCache remembers (gate, nonce) pairs for the signature window, so a
// captured request cannot be replayed. It is bounded: when full, new
// requests are refused (fail closed) rather than forgetting nonces early.
type nonceCache struct {
	mu   sync.Mutex
	m    map[string]time.Time
	max  int
	ttl  time.Duration
	next time.Time
}

func newNonceCache(max int, ttl time.Duration) *nonceCache {
	return &nonceCache{m: make(map[string]time.Time), max: max, ttl: ttl}
}

// add records key at now; false means it was seen within ttl or the cache
// is full.
func (c *nonceCache) add(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.After(c.next) || len(c.m) >= c.max {
		for k, exp := range c.m {
			if now.After(exp) {
				delete(c.m, k)
			}
		}
		c.next = now.Add(c.ttl / 4)
	}
	if exp, ok := c.m[key]; ok && !now.After(exp) {
		return false
	}
	if len(c.m) >= c.max {
		return false
	}
	c.m[key] = now.Add(c.ttl)
	return true
}

// answerCache keeps the answer body per (gate, request id) so a legitimate
// retry gets the same answer without a second look-up or a second event.
type answerCache struct {
	mu   sync.Mutex
	m    map[string]cachedAnswer
	ring []string
	pos  int
	ttl  time.Duration
}

type cachedAnswer struct {
	body []byte
	exp  time.Time
}

func newAnswerCache(size int, ttl time.Duration) *answerCache {
	return &answerCache{m: make(map[string]cachedAnswer, size), ring: make([]string, size), ttl: ttl}
}

func (c *answerCache) get(key string, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.m[key]
	if !ok || now.After(a.exp) {
		return nil, false
	}
	return a.body, true
}

func (c *answerCache) put(key string, body []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.ring[c.pos]; old != "" {
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
