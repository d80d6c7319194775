package gateway

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"spectra/internal/team"
)

// limiter enforces each key's requests-per-minute and tokens-per-minute with token
// buckets held in memory on this node: with N nodes behind a load balancer a key may get
// up to N times its limits. A bucket holds up to one minute's allowance and refills
// continuously. The tokens a request takes at admission are its prompt estimate plus its
// own max-tokens (if it sets one); at the end the difference with the usage actually
// recorded is given back or taken (a bucket may go negative, and then refuses requests
// until it has refilled).
type limiter struct {
	now func() time.Time

	mu   sync.Mutex
	keys map[string]*buckets
}

type buckets struct {
	rpm, tpm bucket
}

// bucket is a token bucket of capacity limit refilled at limit per minute. Rates are not
// money: floats are fine here.
type bucket struct {
	limit int
	level float64
	at    time.Time
}

func (b *bucket) refill(limit int, now time.Time) {
	if b.limit != limit {
		if b.at.IsZero() || b.level > float64(limit) {
			b.level = float64(limit)
		}
		b.limit = limit
	}
	if !b.at.IsZero() {
		b.level = math.Min(float64(limit), b.level+now.Sub(b.at).Minutes()*float64(limit))
	}
	b.at = now
}

// wait is how long until the bucket holds need.
func (b *bucket) wait(need float64) time.Duration {
	return time.Duration((need - b.level) / float64(b.limit) * float64(time.Minute))
}

// ticket is what a request took from its key's buckets.
type ticket struct {
	keyID  string
	tokens int64
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, keys: map[string]*buckets{}}
}

// admit takes one request and tokens from k's buckets, or returns a 429 error saying
// which limit stopped it. It sets OpenAI's x-ratelimit-* headers on h.
func (l *limiter) admit(k team.APIKey, tokens int64, h http.Header) (*ticket, error) {
	if k.RPM <= 0 && k.TPM <= 0 {
		return nil, nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[k.ID]
	if b == nil {
		b = &buckets{}
		l.keys[k.ID] = b
	}
	need := float64(min(tokens, int64(k.TPM)))
	if k.RPM > 0 {
		b.rpm.refill(k.RPM, now)
		if b.rpm.level < 1 {
			return nil, rateError("requests", k.RPM, "requests", b.rpm.wait(1), h)
		}
	}
	if k.TPM > 0 {
		b.tpm.refill(k.TPM, now)
		if b.tpm.level < need || b.tpm.level <= 0 {
			return nil, rateError("tokens", k.TPM, "tokens", b.tpm.wait(max(need, 1)), h)
		}
	}
	t := &ticket{keyID: k.ID}
	if k.RPM > 0 {
		b.rpm.level--
		h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(k.RPM))
		h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(int(b.rpm.level)))
	}
	if k.TPM > 0 {
		b.tpm.level -= need
		t.tokens = int64(need)
		h.Set("X-Ratelimit-Limit-Tokens", strconv.Itoa(k.TPM))
		h.Set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(max(int(b.tpm.level), 0)))
	}
	return t, nil
}

// settle corrects a ticket's tokens to what the request actually used (0 gives back
// everything it took, for a request that was refused or failed).
func (l *limiter) settle(t *ticket, used int64) {
	if t == nil || t.tokens == used {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.keys[t.keyID]; b != nil && b.tpm.limit > 0 {
		b.tpm.level = math.Min(float64(b.tpm.limit), b.tpm.level+float64(t.tokens-used))
	}
}

func rateError(typ string, limit int, unit string, wait time.Duration, h http.Header) error {
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	h.Set("Retry-After", strconv.Itoa(secs))
	return newError(http.StatusTooManyRequests, typ, "rate_limit_exceeded",
		fmt.Sprintf("Rate limit reached: this key allows %d %s per minute. Try again in %ds.", limit, unit, secs))
}
