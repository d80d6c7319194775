// Package ids makes random, URL-safe identifiers with a readable prefix.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var enc = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New returns prefix + "_" + 16 random base32 characters (80 bits), e.g. "ws_3k9x…".
func New(prefix string) string { return prefix + "_" + Random(10) }

// Random returns n random bytes encoded as lowercase base32 (8 characters per 5 bytes).
func Random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return strings.ToLower(enc.EncodeToString(b))
}
