package team

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
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

// hashPassword returns pw's argon2id hash in PHC string form:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, base64 without padding.
func hashPassword(pw string) string {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// checkPassword reports whether pw matches an encoded hash. A malformed or empty hash
// matches nothing.
func checkPassword(encoded, pw string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || len(pw) > MaxPasswordLength {
		return false
	}
	var version int
	var memory, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil || memory == 0 || time == 0 || threads == 0 || memory > 1<<21 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, time, memory, threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// dummyHash is checked against when a sign-in names an unknown email, so that an unknown
// email costs the same time as a wrong password.
var dummyHash = sync.OnceValue(func() string { return hashPassword("spectra: no such user, still hashing") })
