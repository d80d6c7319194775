// Package team holds workspaces and their API keys (members, roles and sessions join
// them with the dashboard).
package team

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/money"
)

// Workspace is a team with one prepaid wallet.
type Workspace struct {
	ID             string       `json:"id"`
	Name           string       `json:"name"`
	Timezone       string       `json:"timezone"`
	OverdraftLimit money.Amount `json:"overdraft_limit"` // how far below zero holds may take the available balance
	CreatedAt      time.Time    `json:"created_at"`
}

// Validate checks a workspace before it is stored.
func (w *Workspace) Validate() error {
	w.Name = strings.TrimSpace(w.Name)
	if w.Name == "" || utf8.RuneCountInString(w.Name) > 200 {
		return errs.E(errs.Invalid, "invalid_name", "workspace name is required (at most 200 characters)")
	}
	if w.Timezone == "" {
		w.Timezone = "UTC"
	}
	if _, err := time.LoadLocation(w.Timezone); err != nil {
		return errs.E(errs.Invalid, "invalid_timezone", "timezone %q is not an IANA time zone", w.Timezone)
	}
	if w.OverdraftLimit < 0 {
		return errs.E(errs.Invalid, "invalid_overdraft_limit", "overdraft_limit must not be negative")
	}
	return nil
}

// KeyKind says what a key may do.
type KeyKind string

// Key kinds.
const (
	KindInference KeyKind = "inference" // the gateway and event ingestion
	KindAdmin     KeyKind = "admin"     // reading a workspace's usage and billing
)

// APIKey is a workspace's key. Its secret is never stored, only its SHA-256 hash.
type APIKey struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"workspace_id"`
	Name        string     `json:"name"`
	Kind        KeyKind    `json:"kind"`
	Prefix      string     `json:"prefix"` // the first characters of the secret, for recognising it
	Project     string     `json:"project,omitempty"`
	MemberID    string     `json:"member_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
}

// Validate checks a key before it is stored.
func (k *APIKey) Validate() error {
	k.Name = strings.TrimSpace(k.Name)
	if k.Name == "" || utf8.RuneCountInString(k.Name) > 200 {
		return errs.E(errs.Invalid, "invalid_name", "key name is required (at most 200 characters)")
	}
	if k.Kind == "" {
		k.Kind = KindInference
	}
	if k.Kind != KindInference && k.Kind != KindAdmin {
		return errs.E(errs.Invalid, "invalid_kind", "key kind must be %q or %q", KindInference, KindAdmin)
	}
	return nil
}

// Active reports whether the key has not been revoked.
func (k APIKey) Active() bool { return k.RevokedAt == nil }

// NewSecret returns a new key secret ("sk-" and 43 random characters) and its hash.
func NewSecret() (secret, hash string) {
	secret = "sk-" + ids.Random(27)[:43]
	return secret, HashSecret(secret)
}

// HashSecret returns the stored form of a key secret. Secrets carry 200+ bits of
// randomness, so a plain SHA-256 is the right hash: fast to check, impossible to reverse.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Store persists workspaces and keys. Implemented by internal/store.
type Store interface {
	// CreateWorkspace stores w and opens its wallet account.
	CreateWorkspace(ctx context.Context, w Workspace) error
	// Workspace returns one workspace, or an errs.NotFound error (workspace_not_found).
	Workspace(ctx context.Context, id string) (Workspace, error)
	// Workspaces returns every workspace, oldest first.
	Workspaces(ctx context.Context) ([]Workspace, error)
	// CreateKey stores k with the hash of its secret.
	CreateKey(ctx context.Context, k APIKey, hash string) error
	// Keys returns a workspace's keys, newest first, revoked ones included.
	Keys(ctx context.Context, workspaceID string) ([]APIKey, error)
	// KeyByHash finds a key by the hash of its secret, or returns errs.NotFound (key_not_found).
	KeyByHash(ctx context.Context, hash string) (APIKey, error)
	// RevokeKey marks a key revoked; revoking twice is not an error. errs.NotFound (key_not_found).
	RevokeKey(ctx context.Context, workspaceID, keyID string, at time.Time) (APIKey, error)
	// TouchKeys records last-used times.
	TouchKeys(ctx context.Context, used map[string]time.Time) error
}
