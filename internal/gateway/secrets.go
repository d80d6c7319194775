package gateway

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// secretBox seals upstream secrets for storage: AES-256-GCM with a random 96-bit nonce
// and the upstream's name as associated data (a sealed secret cannot be moved to another
// upstream's row). Sealed form: "gcm1:" + base64(nonce ‖ ciphertext ‖ tag). Without a key,
// secrets are stored as "plain:" + secret.
type secretBox struct {
	aead cipher.AEAD // nil: no key, secrets in plain text
}

// Sealed-secret prefixes.
const (
	sealedPrefix = "gcm1:"
	plainPrefix  = "plain:"
)

func newSecretBox(key []byte) (*secretBox, error) {
	if key == nil {
		return &secretBox{}, nil
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("gateway: the secret key must be 32 bytes (AES-256), got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &secretBox{aead: aead}, nil
}

// seal returns the stored form of secret for the upstream name.
func (b *secretBox) seal(name, secret string) string {
	if b.aead == nil {
		return plainPrefix + secret
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	out := b.aead.Seal(nonce, nonce, []byte(secret), []byte(name))
	return sealedPrefix + base64.StdEncoding.EncodeToString(out)
}

var errNoSecretKey = errors.New("the upstream secret is encrypted but no secret key (SPECTRA_SECRET_KEY) is configured")

// open returns the secret in clear from its stored form. Plain secrets stay readable
// after a key is configured, so a deployment can turn encryption on at any time.
func (b *secretBox) open(name, stored string) (string, error) {
	if s, ok := strings.CutPrefix(stored, plainPrefix); ok {
		return s, nil
	}
	enc, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return "", errors.New("the upstream secret has an unknown format")
	}
	if b.aead == nil {
		return "", errNoSecretKey
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("the upstream secret is corrupt")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(name))
	if err != nil {
		return "", errors.New("the upstream secret cannot be decrypted with the configured secret key")
	}
	return string(plain), nil
}
