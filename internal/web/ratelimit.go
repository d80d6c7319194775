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
//
// An attempt is counted as a failure before its password is checked (take), in the same
// locked step as the check of the limit, and taken back (refund) only once the password
// turns out right or was never checked. So concurrent attempts cannot all pass a check
// made before any of them failed: of any number of simultaneous wrong passwords for one
// email, at most loginMaxFailures are checked.
type loginLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time // per key, oldest first
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

// prune drops expired failures of every key when the map is full (mu held).
func (l *loginLimiter) prune(now time.Time) {
	if len(l.failures) >= limiterMaxKeys {
		for k := range l.failures {
			l.recent(k, now)
		}
	}
}

// attempt is a sign-in attempt counted against its keys while its password is checked.
type attempt struct {
	keys []string
	at   time.Time
}

// take checks every key against the limit and, when none has reached it, counts the
// attempt as a failure of each, all under one lock. It returns nil, counting nothing,
// when some key is at the limit: the caller answers 429 without checking the password.
// The caller then keeps the count (a wrong password) or calls refund.
func (l *loginLimiter) take(keys ...string) *attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.prune(now)
	for _, k := range keys {
		if len(l.recent(k, now)) >= l.max {
			return nil
		}
	}
	for _, k := range keys {
		l.failures[k] = append(l.failures[k], now)
	}
	return &attempt{keys: keys, at: now}
}

// refund takes back an attempt's count: the password was right, or was not checked
// (the hashing bound was full).
func (l *loginLimiter) refund(a *attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range a.keys {
		f := l.failures[k]
		for i := len(f) - 1; i >= 0; i-- {
			if f[i].Equal(a.at) {
				f = append(f[:i:i], f[i+1:]...)
				break
			}
		}
		if len(f) == 0 {
			delete(l.failures, k)
		} else {
			l.failures[k] = f
		}
	}
}

// reset forgets key's failures (after a successful sign-in).
func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}
