package team

import (
	"context"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/text"
)

// User is a person who signs in to the dashboard. An operator sees every workspace.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Operator  bool      `json:"operator"`
	CreatedAt time.Time `json:"created_at"`
}

// Member is a user's membership of a workspace, with their role there.
type Member struct {
	WorkspaceID   string    `json:"workspace_id"`
	WorkspaceName string    `json:"workspace_name,omitempty"` // filled by every store read, for workspace pickers
	UserID        string    `json:"user_id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	Role          Role      `json:"role"`
	CreatedAt     time.Time `json:"created_at"`
}

// Errors of accounts and members. Match them with errs.Is(err, code).
var (
	ErrEmailTaken     = errs.E(errs.Conflict, "email_taken", "an account with this email already exists")
	ErrUserNotFound   = errs.E(errs.NotFound, "user_not_found", "no such user")
	ErrAlreadyMember  = errs.E(errs.Conflict, "already_member", "this user is already a member of the workspace")
	ErrMemberNotFound = errs.E(errs.NotFound, "member_not_found", "this user is not a member of the workspace")
	ErrNotAMember     = errs.E(errs.Forbidden, "not_a_member", "you are not a member of this workspace")
	ErrLastOwner      = errs.E(errs.Conflict, "last_owner", "a workspace keeps at least one owner; make someone else owner first")
	ErrInvalidRole    = errs.E(errs.Invalid, "invalid_role", "role must be one of owner, admin, billing, member, viewer")
)

// AccountStore persists users, memberships and sessions. Implemented by internal/store.
type AccountStore interface {
	// CreateUser stores u with its password hash. Errors: ErrEmailTaken.
	CreateUser(ctx context.Context, u User, passwordHash string) error
	// User returns one user. Errors: ErrUserNotFound.
	User(ctx context.Context, id string) (User, error)
	// UserByEmail returns the user with this (normalised) email and their password hash.
	// Errors: ErrUserNotFound.
	UserByEmail(ctx context.Context, email string) (User, string, error)
	// HasUsers reports whether any user exists.
	HasUsers(ctx context.Context) (bool, error)
	// SetPasswordHash replaces a user's password hash and ends all their sessions.
	// Errors: ErrUserNotFound.
	SetPasswordHash(ctx context.Context, userID, passwordHash string) error

	// CreateSession stores s under the hash of its token.
	CreateSession(ctx context.Context, tokenHash string, s Session) error
	// Session returns the session stored under tokenHash. Errors: ErrInvalidSession.
	Session(ctx context.Context, tokenHash string) (Session, error)
	// ExtendSession moves a session's expiry (never backwards).
	ExtendSession(ctx context.Context, tokenHash string, expiresAt time.Time) error
	// DeleteSession deletes one session; deleting a missing one is not an error.
	DeleteSession(ctx context.Context, tokenHash string) error
	// DeleteUserSessions deletes every session of a user.
	DeleteUserSessions(ctx context.Context, userID string) error
	// DeleteExpiredSessions deletes sessions whose expiry is not after now and returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// AddMember stores m and returns it with the user's email and name.
	// Errors: ErrUserNotFound, workspace_not_found, ErrAlreadyMember.
	AddMember(ctx context.Context, m Member) (Member, error)
	// SetRole changes a member's role, refusing to demote the last owner, in one
	// transaction that serialises membership changes of the workspace.
	// Errors: ErrMemberNotFound, ErrLastOwner.
	SetRole(ctx context.Context, workspaceID, userID string, role Role) (Member, error)
	// RemoveMember deletes a membership and revokes (at `at`) every key of the workspace
	// whose member_id is the user, in one transaction; it refuses to remove the last owner.
	// It returns the ids of the keys it revoked. Errors: ErrMemberNotFound, ErrLastOwner.
	RemoveMember(ctx context.Context, workspaceID, userID string, at time.Time) ([]string, error)
	// Members returns a workspace's members, oldest membership first.
	Members(ctx context.Context, workspaceID string) ([]Member, error)
	// Memberships returns a user's memberships, oldest first.
	Memberships(ctx context.Context, userID string) ([]Member, error)
	// Member returns one membership. Errors: ErrMemberNotFound.
	Member(ctx context.Context, workspaceID, userID string) (Member, error)

	// SetSetting stores value under name, replacing any earlier value.
	SetSetting(ctx context.Context, name, value string) error
	// CompleteSetup, in one transaction: checks that no user exists (ErrSetupDone) and
	// that the setting SetupTokenSetting holds setupTokenHash (ErrInvalidSetupToken);
	// stores u, creates workspace w with its wallet, makes u its owner, and deletes the
	// setup token.
	CompleteSetup(ctx context.Context, setupTokenHash string, u User, passwordHash string, w Workspace) error
}

// Accounts is the identity service: users, passwords, sessions, memberships and the
// first-run setup. It never sees a plain session token or password after the call that
// carries it: tokens are stored by their SHA-256, passwords by their argon2id hash.
type Accounts struct {
	store   AccountStore
	now     func() time.Time
	revoked revocations
	roles   roleChanges
}

// NewAccounts returns the identity service over store. now is the clock.
func NewAccounts(store AccountStore, now func() time.Time) *Accounts {
	return &Accounts{store: store, now: now}
}

func (a *Accounts) stamp() time.Time { return a.now().UTC().Truncate(time.Microsecond) }

// NormalizeEmail trims and lower-cases an email address and checks that it is a bare
// address (no display name). Errors: invalid_email.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if err := text.Line("email", e, 254); err != nil {
		return "", err
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || len(e) > 254 {
		return "", errs.E(errs.Invalid, "invalid_email", "%q is not an email address", strings.TrimSpace(email))
	}
	return e, nil
}

// cleanName trims a display name, defaulting to the email's local part.
func cleanName(name, email string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	if utf8.RuneCountInString(name) > 200 || !utf8.ValidString(name) {
		return "", errs.E(errs.Invalid, "invalid_name", "name is at most 200 characters")
	}
	if err := text.Line("name", name, 0); err != nil {
		return "", err
	}
	return name, nil
}

// newUser validates the fields of a new user and hashes the password.
func (a *Accounts) newUser(email, name, password string, operator bool) (User, string, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, "", err
	}
	name, err = cleanName(name, email)
	if err != nil {
		return User{}, "", err
	}
	if err := checkPasswordStrength(password); err != nil {
		return User{}, "", err
	}
	hash, err := hashPassword(password) // ErrPasswordBusy when the hashing bound is full
	if err != nil {
		return User{}, "", err
	}
	u := User{ID: ids.New("usr"), Email: email, Name: name, Operator: operator, CreatedAt: a.stamp()}
	return u, hash, nil
}

// CreateUser creates an account. The email is normalised (trimmed, lower case) and
// unique. Errors: invalid_email, invalid_name, weak_password, password_too_long, email_taken.
func (a *Accounts) CreateUser(ctx context.Context, email, name, password string, operator bool) (User, error) {
	u, hash, err := a.newUser(email, name, password, operator)
	if err != nil {
		return User{}, err
	}
	if err := a.store.CreateUser(ctx, u, hash); err != nil {
		return User{}, err
	}
	return u, nil
}

// User returns one user. Errors: user_not_found.
func (a *Accounts) User(ctx context.Context, id string) (User, error) {
	return a.store.User(ctx, id)
}

// UserByEmail returns the user with this email (normalised first). Errors: invalid_email, user_not_found.
func (a *Accounts) UserByEmail(ctx context.Context, email string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, _, err := a.store.UserByEmail(ctx, email)
	return u, err
}

// HasUsers reports whether any account exists (false on a fresh install).
func (a *Accounts) HasUsers(ctx context.Context) (bool, error) {
	return a.store.HasUsers(ctx)
}

// SetPassword replaces a user's password and signs them out everywhere.
// Errors: weak_password, password_too_long, user_not_found.
func (a *Accounts) SetPassword(ctx context.Context, userID, password string) error {
	if err := checkPasswordStrength(password); err != nil {
		return err
	}
	hash, err := hashPassword(password) // ErrPasswordBusy when the hashing bound is full
	if err != nil {
		return err
	}
	return a.store.SetPasswordHash(ctx, userID, hash)
}

// AddMember makes a user a member of a workspace with a role.
// Errors: invalid_role, user_not_found, workspace_not_found, already_member.
func (a *Accounts) AddMember(ctx context.Context, workspaceID, userID string, role Role) (Member, error) {
	if !role.Valid() {
		return Member{}, ErrInvalidRole
	}
	return a.store.AddMember(ctx, Member{WorkspaceID: workspaceID, UserID: userID, Role: role, CreatedAt: a.stamp()})
}

// SetRole changes a member's role. A workspace always keeps at least one owner. The
// member's keys follow the new role from their next use (APIKey.RoleAllows).
// Who may make this change is the caller's to check (Role.CanChangeMember): only an
// owner may grant or take away the owner role.
// Errors: invalid_role, member_not_found, last_owner.
func (a *Accounts) SetRole(ctx context.Context, workspaceID, userID string, role Role) (Member, error) {
	if !role.Valid() {
		return Member{}, ErrInvalidRole
	}
	m, err := a.store.SetRole(ctx, workspaceID, userID, role)
	if err != nil {
		return m, err
	}
	a.roles.notify(workspaceID, userID)
	return m, nil
}

// OnRoleChanged registers f to be told the workspace and user of every role SetRole
// changes, after the change commits (the gateway drops that member's keys from its key
// cache, so that a demotion bounds them at once on this node).
func (a *Accounts) OnRoleChanged(f func(workspaceID, userID string)) {
	a.roles.mu.Lock()
	a.roles.subs = append(a.roles.subs, f)
	a.roles.mu.Unlock()
}

// roleChanges is a list of subscribers to role changes.
type roleChanges struct {
	mu   sync.Mutex
	subs []func(workspaceID, userID string)
}

func (r *roleChanges) notify(workspaceID, userID string) {
	r.mu.Lock()
	subs := r.subs
	r.mu.Unlock()
	for _, f := range subs {
		f(workspaceID, userID)
	}
}

// RemoveMember removes a member and, in the same transaction, revokes every key of the
// workspace whose MemberID is that user: the next request with one fails (the revoked
// key ids go to the OnKeysRevoked subscribers, so this node's caches drop them at once).
// A workspace always keeps at least one owner. Errors: member_not_found, last_owner.
func (a *Accounts) RemoveMember(ctx context.Context, workspaceID, userID string) error {
	keys, err := a.store.RemoveMember(ctx, workspaceID, userID, a.stamp())
	if err != nil {
		return err
	}
	a.revoked.notify(keys)
	return nil
}

// OnKeysRevoked registers f to be told the ids of keys revoked by RemoveMember, after
// the revocation commits (the gateway drops them from its key cache).
func (a *Accounts) OnKeysRevoked(f func(keyIDs []string)) { a.revoked.add(f) }

// Members returns a workspace's members, oldest membership first.
func (a *Accounts) Members(ctx context.Context, workspaceID string) ([]Member, error) {
	return a.store.Members(ctx, workspaceID)
}

// Memberships returns the workspaces a user belongs to, oldest membership first.
func (a *Accounts) Memberships(ctx context.Context, userID string) ([]Member, error) {
	return a.store.Memberships(ctx, userID)
}

// Member returns a user's membership of a workspace, for access checks. Errors:
// errs.Forbidden not_a_member when the user is not a member (or the workspace does not
// exist: the answer does not tell which).
func (a *Accounts) Member(ctx context.Context, workspaceID, userID string) (Member, error) {
	if err := text.Line("workspace id", workspaceID, 0); err != nil {
		return Member{}, err // no workspace has such an id (invalid_text)
	}
	m, err := a.store.Member(ctx, workspaceID, userID)
	if errs.Is(err, ErrMemberNotFound.Code) {
		return Member{}, ErrNotAMember
	}
	return m, err
}
