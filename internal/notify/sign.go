package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix starts every signing secret; the rest is the base64 of the key bytes.
const secretPrefix = "whsec_"

// secretBytes is the length of a new signing key (Standard Webhooks asks for 24 to 64).
const secretBytes = 32

// NewSecret returns a fresh signing secret, "whsec_" + base64 of 32 random bytes.
func NewSecret() string {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey decodes a whsec_ secret into its key bytes.
func secretKey(secret string) ([]byte, error) {
	if !strings.HasPrefix(secret, secretPrefix) {
		return nil, fmt.Errorf("notify: signing secret does not start with %q", secretPrefix)
	}
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
}

// Sign returns the webhook-signature header value for a message: "v1," + the base64 of
// HMAC-SHA256(key, "<id>.<unix seconds>.<body>").
func Sign(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, at.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SetHeaders sets the three Standard Webhooks headers of one attempt on h.
func SetHeaders(h http.Header, secret, id string, at time.Time, body []byte) error {
	sig, err := Sign(secret, id, at, body)
	if err != nil {
		return err
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}

// message is the JSON body of a webhook message.
type message struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// MessageBody returns the webhook body {"type":…,"timestamp":<RFC 3339>,"data":…}.
func MessageBody(eventType string, at time.Time, data json.RawMessage) ([]byte, error) {
	if !json.Valid(data) {
		return nil, fmt.Errorf("notify: the %s message's data is not valid JSON", eventType)
	}
	return json.Marshal(message{Type: eventType, Timestamp: at.UTC().Format(time.RFC3339), Data: data})
}
