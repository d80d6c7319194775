package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"unicode"
	"unicode/utf8"
)

// MaxNodeIDLen bounds a node id, in bytes.
const MaxNodeIDLen = 128

// ValidNodeID checks a node id: 1 to MaxNodeIDLen bytes of valid UTF-8, printable,
// with no spaces and no control characters (it is stored with every lease of the node
// and shown in logs).
func ValidNodeID(id string) error {
	if id == "" {
		return errors.New("node id: must not be empty")
	}
	if len(id) > MaxNodeIDLen {
		return errors.New("node id: at most 128 bytes")
	}
	if !utf8.ValidString(id) {
		return errors.New("node id: must be valid UTF-8")
	}
	for _, r := range id {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return errors.New("node id: only visible characters, no spaces")
		}
	}
	return nil
}

// RandomNodeID is a fresh id for a node that has no stable one ("node-" and 16 hex
// digits). Leases under it are not released by a later run: they wait for the sweep.
func RandomNodeID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "node-" + hex.EncodeToString(b[:])
}
