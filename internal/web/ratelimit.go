package web

import (
	"sync"
	"time"
)

// Login rate limits: after loginMaxFailures failed sign-ins within loginWindow, from one
// IP address or for one email, further attempts are refused (429) until the oldest
// failure leaves the window.
const (
	loginMaxFailures = 10
	loginWindow      = 15 * time.Minute
	limiterMaxKeys   = 100_000 // bound on the memory an attacker can make us use
)

// loginLimiter counts recent sign-in failures per key in memory. It is per node: behind
// several nodes an attacker gets a few more tries, never unlimited ones.
type loginLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time
}

func newLoginLimiter(max int, window time.Duration, now func() time.Time) *loginLimiter {
	return &loginLimiter{max: max, window: window, now: now, failures: map[string][]time.Time{}}
}

// recent drops failures older than the window and returns the rest (mu held).
func (l *loginLimiter) recent(key string, now time.Time) []time.Time {
	f := l.failures[key]
	i := 0
	for i < len(f) && !f[i].After(now.Add(-l.window)) {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.failures, key)
		return nil
	}
	l.failures[key] = f
	return f
}

// blocked reports whether key has reached the limit.
func (l *loginLimiter) blocked(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, l.now())) >= l.max
}

// fail records a failure for key.
func (l *loginLimiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.failures) >= limiterMaxKeys {
		for k := range l.failures {
			l.recent(k, now)
		}
	}
	f := l.recent(key, now)
	if len(f) >= l.max {
		f = f[1:]
	}
	l.failures[key] = append(f, now)
}

// reset forgets key's failures (after a successful sign-in).
func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}
