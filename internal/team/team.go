// Package team holds workspaces and their API keys (members, roles and sessions join
// them with the dashboard).
package team

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/text"
)

// Workspace is a team with one prepaid wallet.
type Workspace struct {
	ID             string       `json:"id"`
	Name           string       `json:"name"`
	Timezone       string       `json:"timezone"`
	OverdraftLimit money.Amount `json:"overdraft_limit"` // how far below zero holds may take the available balance
	// PriceList is the price list its events are priced by ("": the catalog as it is);
	// the operator assigns it (WorkspaceUpdate.PriceList).
	PriceList string    `json:"price_list"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks a workspace before it is stored.
func (w *Workspace) Validate() error {
	w.Name = strings.TrimSpace(w.Name)
	if w.Name == "" || utf8.RuneCountInString(w.Name) > 200 {
		return errs.E(errs.Invalid, "invalid_name", "workspace name is required (at most 200 characters)")
	}
	if err := text.Line("name", w.Name, 0); err != nil {
		return err
	}
	if w.Timezone == "" {
		w.Timezone = "UTC"
	}
	if err := ValidTimezone(w.Timezone); err != nil {
		return err
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
	// ExpiresAt is when the key stops working (nil: never). Past it, the gateway and the
	// API refuse the key with 401 key_expired (ErrKeyExpired).
	ExpiresAt *time.Time `json:"expires_at"`

	// Gateway settings. AllowedModels empty means every model; RPM and TPM 0 mean no limit.
	AllowedModels []string `json:"allowed_models"`
	RPM           int      `json:"rpm"` // requests per minute
	TPM           int      `json:"tpm"` // tokens (input + output) per minute

	// MemberRole is the current role of the member MemberID names, read by
	// Service.Authenticate at each use ("" when the key has no member); see RoleAllows.
	MemberRole Role `json:"-"`
}

// Validate checks a key before it is stored.
func (k *APIKey) Validate() error {
	k.Name = strings.TrimSpace(k.Name)
	if k.Name == "" || utf8.RuneCountInString(k.Name) > 200 {
		return errs.E(errs.Invalid, "invalid_name", "key name is required (at most 200 characters)")
	}
	for _, f := range []struct{ name, v string }{{"name", k.Name}, {"project", k.Project}, {"member_id", k.MemberID}} {
		if err := text.Line(f.name, f.v, 255); err != nil { // project and member are copied into events (255 bytes)
			return err
		}
	}
	if k.Kind == "" {
		k.Kind = KindInference
	}
	if k.Kind != KindInference && k.Kind != KindAdmin {
		return errs.E(errs.Invalid, "invalid_kind", "key kind must be %q or %q", KindInference, KindAdmin)
	}
	k.AllowedModels = dedupe(k.AllowedModels)
	return validateLimits(k.AllowedModels, k.RPM, k.TPM)
}

// AllowsModel reports whether the key may call model (an empty list allows every model).
func (k APIKey) AllowsModel(model string) bool {
	return len(k.AllowedModels) == 0 || slices.Contains(k.AllowedModels, model)
}

// MaxAllowedModels bounds a key's allowed-model list.
const MaxAllowedModels = 500

// KeyLimits changes a key's gateway settings; a nil field stays as it is.
type KeyLimits struct {
	AllowedModels *[]string `json:"allowed_models"`
	RPM           *int      `json:"rpm"`
	TPM           *int      `json:"tpm"`
	// Project, when set, becomes the key's project (the attribution of its future
	// requests and events; "" removes it).
	Project *string `json:"project"`
	// ExpiresAt, when present, sets the key's expiry; JSON null removes it.
	ExpiresAt OptionalTime `json:"expires_at"`
}

// OptionalTime is a time field of a change that may be absent (Set false: left as it
// is), null (Set true, Time nil: removed) or a time.
type OptionalTime struct {
	Set  bool
	Time *time.Time
}

// UnmarshalJSON reads null or an RFC 3339 time; it is only called when the field is
// present, which is what Set records.
func (o *OptionalTime) UnmarshalJSON(b []byte) error {
	o.Set, o.Time = true, nil
	if string(b) == "null" {
		return nil
	}
	var t time.Time
	if err := json.Unmarshal(b, &t); err != nil {
		return errs.E(errs.Invalid, "invalid_expires_at", "expires_at must be an RFC 3339 time or null")
	}
	t = t.UTC().Truncate(time.Microsecond)
	o.Time = &t
	return nil
}

// ErrKeyExpired refuses a key past its expiry (401).
var ErrKeyExpired = errs.E(errs.Unauthorized, "key_expired", "the API key has expired")

// Expired reports whether the key's expiry has passed at now.
func (k APIKey) Expired(now time.Time) bool { return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) }

// CheckExpiry refuses an expiry that is not after now (a key would be born expired):
// errs.Invalid invalid_expires_at. nil (never expires) is valid.
func CheckExpiry(at *time.Time, now time.Time) error {
	if at != nil && !at.After(now) {
		return errs.E(errs.Invalid, "invalid_expires_at", "the expiry must be in the future")
	}
	return nil
}

// Validate checks the fields that are set, and removes duplicate models.
func (l *KeyLimits) Validate() error {
	var models []string
	rpm, tpm := 0, 0
	if l.AllowedModels != nil {
		models = dedupe(*l.AllowedModels)
		l.AllowedModels = &models
	}
	if l.RPM != nil {
		rpm = *l.RPM
	}
	if l.TPM != nil {
		tpm = *l.TPM
	}
	if l.Project != nil {
		p := strings.TrimSpace(*l.Project)
		l.Project = &p
		if err := text.Line("project", p, 255); err != nil {
			return err
		}
	}
	return validateLimits(models, rpm, tpm)
}

// Apply returns k with the fields of l that are set.
func (l KeyLimits) Apply(k APIKey) APIKey {
	if l.AllowedModels != nil {
		k.AllowedModels = slices.Clone(*l.AllowedModels)
	}
	if l.RPM != nil {
		k.RPM = *l.RPM
	}
	if l.TPM != nil {
		k.TPM = *l.TPM
	}
	if l.Project != nil {
		k.Project = *l.Project
	}
	if l.ExpiresAt.Set {
		k.ExpiresAt = l.ExpiresAt.Time
	}
	return k
}

func validateLimits(models []string, rpm, tpm int) error {
	if len(models) > MaxAllowedModels {
		return errs.E(errs.Invalid, "invalid_allowed_models", "a key allows at most %d models", MaxAllowedModels)
	}
	for _, m := range models {
		if !pricing.ValidModel(m) {
			return errs.E(errs.Invalid, "invalid_allowed_models", "model name %q is not valid", m)
		}
	}
	if rpm < 0 || rpm > 1_000_000_000 {
		return errs.E(errs.Invalid, "invalid_rpm", "rpm must be between 0 (no limit) and 1000000000")
	}
	if tpm < 0 || tpm > 1_000_000_000_000 {
		return errs.E(errs.Invalid, "invalid_tpm", "tpm must be between 0 (no limit) and 1000000000000")
	}
	return nil
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, m := range in {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
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
	// UpdateWorkspace applies the set fields of u (validated) to workspace id in one
	// transaction; a timezone change rebuilds the workspace's daily rollups by the new
	// zone's days in that transaction; a price list assignment checks that the list
	// exists in it. errs.NotFound (workspace_not_found, price_list_not_found).
	UpdateWorkspace(ctx context.Context, id string, u WorkspaceUpdate) error
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
	// Member returns one membership (errs.NotFound member_not_found), and User one
	// user (errs.NotFound user_not_found): a key is bounded by its member's role.
	Member(ctx context.Context, workspaceID, userID string) (Member, error)
	User(ctx context.Context, id string) (User, error)
}
