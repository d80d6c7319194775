package team

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"spectra/internal/errs"
)

// Password rules.
const (
	MinPasswordLength = 10   // characters
	MaxPasswordLength = 1024 // bytes: argon2 reads it all, so bound the work
)

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). They are
// written into every hash, so raising them later keeps old hashes verifiable.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

func checkPasswordStrength(pw string) error {
	if len(pw) > MaxPasswordLength {
		return errs.E(errs.Invalid, "password_too_long", "password is at most %d bytes", MaxPasswordLength)
	}
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return errs.E(errs.Invalid, "weak_password", "password must be at least %d characters", MinPasswordLength)
	}
	return nil
}

// Password hashing is bounded per process: at most hashSlots argon2id computations run
// at once (each takes argonMemory KiB), so a flood of sign-ins costs a bounded amount of
// memory, hashSlots × 19 MiB, whatever its size. A request that finds every slot busy
// waits up to HashWait for one, then gets ErrPasswordBusy.
const (
	minHashSlots = 2
	maxHashSlots = 4
	// HashWait is the longest a password check waits for a hashing slot.
	HashWait = 2 * time.Second
)

// ErrPasswordBusy is returned (errs.Unavailable) when a password could not be hashed
// because every hashing slot stayed busy for HashWait: the caller answers 503 with a
// Retry-After, and counts no failed sign-in.
var ErrPasswordBusy = errs.E(errs.Unavailable, "password_check_busy",
	"too many passwords are being checked at once; try again in a few seconds")

// hashing is the process's bound on concurrent argon2id computations: one per core,
// between minHashSlots and maxHashSlots.
var hashing = newHashGate(min(max(runtime.GOMAXPROCS(0), minHashSlots), maxHashSlots), HashWait)

// hashGate is a counting semaphore with a bounded wait.
type hashGate struct {
	slots chan struct{}
	wait  time.Duration
	busy  atomic.Int64 // requests refused with ErrPasswordBusy
}

func newHashGate(slots int, wait time.Duration) *hashGate {
	return &hashGate{slots: make(chan struct{}, slots), wait: wait}
}

// run runs f in a slot, waiting at most g.wait (or until ctx ends) for one; otherwise it
// returns ErrPasswordBusy without running f.
func (g *hashGate) run(ctx context.Context, f func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			g.busy.Add(1)
			return ErrPasswordBusy
		case <-ctx.Done():
			g.busy.Add(1)
			return ErrPasswordBusy
		}
	}
	defer func() { <-g.slots }()
	f()
	return nil
}

// argon2id computations running now, and the most that ever ran at once: the
// instrument that shows the bound holds (PasswordHashing).
var argonRunning, argonPeak atomic.Int64

// argonKey is the one place argon2.IDKey is called.
func argonKey(pw, salt []byte, passes, memory uint32, threads uint8, keyLen uint32) []byte {
	n := argonRunning.Add(1)
	defer argonRunning.Add(-1)
	for {
		p := argonPeak.Load()
		if n <= p || argonPeak.CompareAndSwap(p, n) {
			break
		}
	}
	return argon2.IDKey(pw, salt, passes, memory, threads, keyLen)
}

// HashingStats describes this process's password-hashing bound.
type HashingStats struct {
	Slots int   // argon2id computations allowed at once
	Peak  int64 // the most that ever ran at once (never above Slots)
	Busy  int64 // password checks refused with ErrPasswordBusy
}

// PasswordHashing returns the password-hashing bound and what it has seen since start.
func PasswordHashing() HashingStats {
	return HashingStats{Slots: cap(hashing.slots), Peak: argonPeak.Load(), Busy: hashing.busy.Load()}
}

// hashPassword returns pw's argon2id hash in PHC string form:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, base64 without padding. It runs under the
// hashing bound: ErrPasswordBusy when no slot frees up within HashWait.
func hashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	var key []byte
	if err := hashing.run(context.Background(), func() {
		key = argonKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	}); err != nil {
		return "", err
	}
	return encodeHash(salt, key), nil
}

func encodeHash(salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// checkPassword reports whether pw matches an encoded hash, under the hashing bound
// (ErrPasswordBusy when no slot frees up within HashWait or before ctx ends). A
// malformed or empty hash matches nothing and costs no hashing.
func checkPassword(ctx context.Context, encoded, pw string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || len(pw) > MaxPasswordLength {
		return false, nil
	}
	var version int
	var memory, passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, nil
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil || memory == 0 || passes == 0 || threads == 0 || memory > 1<<21 {
		return false, nil
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return false, nil
	}
	var got []byte
	if err := hashing.run(ctx, func() { got = argonKey([]byte(pw), salt, passes, memory, threads, uint32(len(key))) }); err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// dummyHash is checked against when a sign-in names an unknown email, so that an unknown
// email costs the same time as a wrong password. It has this build's parameters and a
// key that no password derives (it was never computed), so making it costs nothing.
var dummyHash = encodeHash([]byte("spectra-no-user!"), []byte("spectra: no such user, no key!!!"))
