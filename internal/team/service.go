package team

import (
	"context"
	"sync"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/text"
)

// ErrInvalidKey is returned by Authenticate for an unknown or revoked secret.
var ErrInvalidKey = errs.E(errs.Unauthorized, "invalid_api_key", "the API key is missing, unknown or revoked")

// Service manages workspaces and keys.
type Service struct {
	store Store
	now   func() time.Time

	mu      sync.Mutex
	touched map[string]time.Time // key id → last use not yet written
	revoked revocations
}

// NewService returns a team service over store. now is the clock.
func NewService(store Store, now func() time.Time) *Service {
	return &Service{store: store, now: now, touched: map[string]time.Time{}}
}

// CreateWorkspace validates and stores a new workspace with a fresh id.
func (s *Service) CreateWorkspace(ctx context.Context, w Workspace) (Workspace, error) {
	if err := w.Validate(); err != nil {
		return Workspace{}, err
	}
	if w.ID == "" {
		w.ID = ids.New("ws")
	}
	w.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	return w, s.store.CreateWorkspace(ctx, w)
}

// Workspace returns one workspace (errs.NotFound workspace_not_found; invalid_text for
// an id that breaks the text rule, which no workspace has).
func (s *Service) Workspace(ctx context.Context, id string) (Workspace, error) {
	if err := text.Line("workspace id", id, 0); err != nil {
		return Workspace{}, err
	}
	return s.store.Workspace(ctx, id)
}

// Workspaces returns every workspace.
func (s *Service) Workspaces(ctx context.Context) ([]Workspace, error) {
	return s.store.Workspaces(ctx)
}

// CreateKey makes a key for workspace k.WorkspaceID and returns it with its secret,
// which is shown this once and never stored.
func (s *Service) CreateKey(ctx context.Context, k APIKey) (APIKey, string, error) {
	if err := k.Validate(); err != nil {
		return APIKey{}, "", err
	}
	if k.ExpiresAt != nil {
		at := k.ExpiresAt.UTC().Truncate(time.Microsecond)
		k.ExpiresAt = &at
	}
	if err := CheckExpiry(k.ExpiresAt, s.now()); err != nil {
		return APIKey{}, "", err
	}
	if _, err := s.store.Workspace(ctx, k.WorkspaceID); err != nil {
		return APIKey{}, "", err
	}
	role, err := s.memberRole(ctx, k)
	if errs.Is(err, ErrInvalidKey.Code) {
		return APIKey{}, "", errs.E(errs.Invalid, "invalid_member", "the key's member is not a member of this workspace")
	}
	if err != nil {
		return APIKey{}, "", err
	}
	if k.Kind == KindInference && role != "" && !role.Can(ActUseKeys) {
		return APIKey{}, "", errs.E(errs.Invalid, "key_exceeds_role",
			"a member whose role is %s may not hold an inference key", role)
	}
	secret, hash := NewSecret()
	k.ID = ids.New("key")
	k.Prefix = secret[:10]
	k.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	k.LastUsedAt, k.RevokedAt = nil, nil
	if err := s.store.CreateKey(ctx, k, hash); err != nil {
		return APIKey{}, "", err
	}
	return k, secret, nil
}

// Keys lists a workspace's keys.
func (s *Service) Keys(ctx context.Context, workspaceID string) ([]APIKey, error) {
	if _, err := s.store.Workspace(ctx, workspaceID); err != nil {
		return nil, err
	}
	return s.store.Keys(ctx, workspaceID)
}

// RevokeKey revokes a key at once: the next request with it fails.
func (s *Service) RevokeKey(ctx context.Context, workspaceID, keyID string) (APIKey, error) {
	k, err := s.store.RevokeKey(ctx, workspaceID, keyID, s.now())
	if err != nil {
		return k, err
	}
	s.revoked.notify([]string{k.ID})
	return k, nil
}

// OnKeysRevoked registers f to be told the id of every key RevokeKey revokes, after the
// revocation commits (the gateway drops it from its key cache).
func (s *Service) OnKeysRevoked(f func(keyIDs []string)) { s.revoked.add(f) }

// revocations is a list of subscribers to revoked key ids.
type revocations struct {
	mu   sync.Mutex
	subs []func([]string)
}

func (r *revocations) add(f func([]string)) {
	r.mu.Lock()
	r.subs = append(r.subs, f)
	r.mu.Unlock()
}

func (r *revocations) notify(keyIDs []string) {
	if len(keyIDs) == 0 {
		return
	}
	r.mu.Lock()
	subs := r.subs
	r.mu.Unlock()
	for _, f := range subs {
		f(keyIDs)
	}
}

// Authenticate returns the active key whose secret this is, or ErrInvalidKey (a key
// past its expiry: ErrKeyExpired, returned with the key), with
// MemberRole set to its member's current role (so that APIKey.RoleAllows bounds the key
// by it). A key whose member_id names a user who is no longer a member of the
// workspace is ErrInvalidKey. It notes
// the use; FlushUsage writes last-used times in the background, so a hot key costs no
// write per request.
func (s *Service) Authenticate(ctx context.Context, secret string) (APIKey, error) {
	if secret == "" {
		return APIKey{}, ErrInvalidKey
	}
	k, err := s.store.KeyByHash(ctx, HashSecret(secret))
	if errs.KindOf(err) == errs.NotFound {
		return APIKey{}, ErrInvalidKey
	}
	if err != nil {
		return APIKey{}, err
	}
	if !k.Active() {
		return APIKey{}, ErrInvalidKey
	}
	if k.Expired(s.now()) {
		return k, ErrKeyExpired // known: the gateway logs the refusal in its workspace
	}
	if k.MemberRole, err = s.memberRole(ctx, k); err != nil {
		return APIKey{}, err
	}
	s.mu.Lock()
	s.touched[k.ID] = s.now()
	s.mu.Unlock()
	return k, nil
}

// memberRole returns the current role of the member key k belongs to: "" for a key with
// no member_id, or whose member_id is a label naming no user (keys made through the API
// may carry any attribution label); ErrInvalidKey when it names a user who is not a
// member of k's workspace (removed members' keys are also revoked with them).
func (s *Service) memberRole(ctx context.Context, k APIKey) (Role, error) {
	if k.MemberID == "" {
		return "", nil
	}
	m, err := s.store.Member(ctx, k.WorkspaceID, k.MemberID)
	if err == nil {
		return m.Role, nil
	}
	if errs.KindOf(err) != errs.NotFound {
		return "", err
	}
	_, err = s.store.User(ctx, k.MemberID)
	switch {
	case err == nil:
		return "", ErrInvalidKey
	case errs.KindOf(err) == errs.NotFound:
		return "", nil
	}
	return "", err
}

// FlushUsage writes the last-used times noted since the previous flush.
func (s *Service) FlushUsage(ctx context.Context) error {
	s.mu.Lock()
	used := s.touched
	s.touched = map[string]time.Time{}
	s.mu.Unlock()
	return s.store.TouchKeys(ctx, used)
}
