package team

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/mail"
)

// Invitation is an offer, sent to an email address, to join a workspace with a role.
// It is answered by opening its link (/invite/<token>) before ExpiresAt, once.
type Invitation struct {
	ID            string     `json:"id"`
	WorkspaceID   string     `json:"workspace_id"`
	WorkspaceName string     `json:"workspace_name,omitempty"`
	Email         string     `json:"email"`
	Role          Role       `json:"role"`
	InvitedBy     string     `json:"invited_by"` // the inviting user's id; "" for the operator
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	AcceptedAt    *time.Time `json:"accepted_at"`
	AcceptedBy    string     `json:"accepted_by,omitempty"`
	RevokedAt     *time.Time `json:"revoked_at"`
}

// Invitation states, as Status reports them.
const (
	InvitationPending  = "pending"
	InvitationAccepted = "accepted"
	InvitationRevoked  = "revoked"
	InvitationExpired  = "expired"
)

// Status says whether the invitation is pending, accepted, revoked or expired at now.
func (inv Invitation) Status(now time.Time) string {
	switch {
	case inv.AcceptedAt != nil:
		return InvitationAccepted
	case inv.RevokedAt != nil:
		return InvitationRevoked
	case !now.Before(inv.ExpiresAt):
		return InvitationExpired
	}
	return InvitationPending
}

// Errors of invitations. Match them with errs.Is(err, code). Answering a link that is
// not open changes nothing.
var (
	ErrInvitationInvalid  = errs.E(errs.NotFound, "invitation_invalid", "this invitation link is not valid; ask for a new invitation")
	ErrInvitationExpired  = errs.E(errs.Conflict, "invitation_expired", "this invitation has expired; ask for a new one")
	ErrInvitationUsed     = errs.E(errs.Conflict, "invitation_used", "this invitation has already been accepted")
	ErrInvitationRevoked  = errs.E(errs.Conflict, "invitation_revoked", "this invitation was withdrawn (or replaced by a newer one)")
	ErrInvitationNotFound = errs.E(errs.NotFound, "invitation_not_found", "no such invitation in this workspace")
	ErrInvitationEmail    = errs.E(errs.Forbidden, "invitation_email_mismatch", "this invitation is for another email address; sign in as that address")
	ErrRoleForbidden      = errs.E(errs.Forbidden, "role_forbidden", "only an owner may give or take away the owner role")
	ErrCannotManage       = errs.E(errs.Forbidden, "members_forbidden", "only owners and admins manage members")
)

// InvitationStore persists invitations. Implemented by internal/store.
type InvitationStore interface {
	// CreateInvitation stores inv under the hash of its token, in one transaction that
	// locks the workspace, refuses an email that is already a member (ErrAlreadyMember),
	// and marks any open invitation of the same email revoked (it is replaced).
	// Errors: workspace_not_found, already_member.
	CreateInvitation(ctx context.Context, inv Invitation, tokenHash string) (Invitation, error)
	// Invitation returns one invitation with the hash of its token.
	// Errors: ErrInvitationNotFound.
	Invitation(ctx context.Context, id string) (Invitation, string, error)
	// Invitations returns a workspace's invitations, newest first; with pendingAt set,
	// only those open at that time.
	Invitations(ctx context.Context, workspaceID string, pendingAt *time.Time) ([]Invitation, error)
	// RevokeInvitation marks an unanswered invitation revoked (a guarded update).
	// Errors: ErrInvitationNotFound, ErrInvitationUsed, ErrInvitationRevoked.
	RevokeInvitation(ctx context.Context, workspaceID, id string, at time.Time) (Invitation, error)
	// AcceptInvitation, in one transaction: marks the invitation accepted by the user
	// with a guarded update (same token hash, not accepted, not revoked, expires_at > at)
	// — refusing with ErrInvitationUsed, ErrInvitationRevoked, ErrInvitationExpired or
	// ErrInvitationInvalid when it does not apply —, creates newUser when it is not nil
	// (ErrEmailTaken), and adds the user as a member with the invitation's role
	// (ErrAlreadyMember). Either all of it happens or none of it.
	AcceptInvitation(ctx context.Context, id, tokenHash, userID string, newUser *User, passwordHash string, at time.Time) (Member, error)
	// SetSettingIfAbsent stores value under name unless one is there, and returns the
	// stored value.
	SetSettingIfAbsent(ctx context.Context, name, value string) (string, bool, error)
}

// InvitationSecretSetting names the setting that holds the key signing invitation
// links, made once per deployment.
const InvitationSecretSetting = "invitation_hmac_key"

// DefaultInvitationTTL is how long an invitation link works unless configured otherwise.
const DefaultInvitationTTL = 7 * 24 * time.Hour

// InvitationsConfig configures the invitation service.
type InvitationsConfig struct {
	// BaseURL is where people reach the dashboard (e.g. "https://spectra.example.com");
	// links are BaseURL + "/invite/" + token.
	BaseURL string
	// TTL is how long a link works (DefaultInvitationTTL when 0).
	TTL time.Duration
	// Mail sends the invitation emails; nil sends none (the link is still returned).
	Mail mail.Sender
	Log  *slog.Logger
	Now  func() time.Time
}

// Invitations invites people to workspaces by email and lets them accept.
type Invitations struct {
	store    InvitationStore
	accounts *Accounts
	team     *Service
	cfg      InvitationsConfig

	mu  sync.Mutex
	key []byte // loaded from settings on first use
}

// NewInvitations returns the invitation service. accounts creates the new users and
// team names the workspaces in emails.
func NewInvitations(store InvitationStore, accounts *Accounts, team *Service, cfg InvitationsConfig) *Invitations {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultInvitationTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Invitations{store: store, accounts: accounts, team: team, cfg: cfg}
}

// TTL is how long a new invitation's link works.
func (s *Invitations) TTL() time.Duration { return s.cfg.TTL }

// MailEnabled reports whether invitations are emailed (otherwise only the link is shown).
func (s *Invitations) MailEnabled() bool { return s.cfg.Mail != nil }

// Sent is a new invitation with its link, shown to the inviter (the token is never
// stored, so the link cannot be shown again later).
type Sent struct {
	Invitation
	Link      string `json:"link"`
	EmailSent bool   `json:"email_sent"`
	// EmailError says why the email was not sent, when mail is configured and sending failed.
	EmailError string `json:"email_error,omitempty"`
}

// Invite invites email to a workspace with a role, replacing any open invitation of the
// same email there, and emails the link. by is the inviting member (nil for the
// operator), who must be allowed to give that role (Role.CanChangeMember).
// Errors: invalid_email, invalid_role, members_forbidden, role_forbidden,
// workspace_not_found, already_member. A failed email is not an error: the invitation
// stands and Sent.EmailError says what went wrong.
func (s *Invitations) Invite(ctx context.Context, workspaceID, email string, role Role, by *Member) (Sent, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return Sent{}, err
	}
	if !role.Valid() {
		return Sent{}, ErrInvalidRole
	}
	if err := checkInviter(by, workspaceID, role); err != nil {
		return Sent{}, err
	}
	ws, err := s.team.Workspace(ctx, workspaceID)
	if err != nil {
		return Sent{}, err
	}
	key, err := s.signingKey(ctx)
	if err != nil {
		return Sent{}, err
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	inv := Invitation{ID: ids.New("inv"), WorkspaceID: workspaceID, Email: email, Role: role,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.TTL).Truncate(time.Second)}
	if by != nil {
		inv.InvitedBy = by.UserID
	}
	token := signToken(key, inv.ID, inv.ExpiresAt)
	inv, err = s.store.CreateInvitation(ctx, inv, HashSecret(token))
	if err != nil {
		return Sent{}, err
	}
	inv.WorkspaceName = ws.Name
	out := Sent{Invitation: inv, Link: s.Link(token)}
	if s.cfg.Mail == nil {
		s.cfg.Log.Info("invitation created; no SMTP server is configured (SPECTRA_SMTP_URL), so no email was sent", "workspace", workspaceID, "invitation", inv.ID)
		return out, nil
	}
	who := "The operator of Spectra"
	if by != nil {
		who = by.Name
		if who == "" {
			who = by.Email
		}
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	err = s.cfg.Mail.Send(mctx, mail.Message{To: []string{email},
		Subject: fmt.Sprintf("You are invited to %s on Spectra", ws.Name),
		Text: fmt.Sprintf("%s invites you to join the workspace %s on Spectra as %s.\n\nOpen this link to accept (it works once, until %s):\n\n%s\n\nIf you did not expect this invitation, ignore this email.\n",
			who, ws.Name, role, inv.ExpiresAt.Format("2 January 2006 15:04 MST"), out.Link)})
	if err != nil {
		s.cfg.Log.Warn("invitation email not sent", "workspace", workspaceID, "invitation", inv.ID, "err", err)
		out.EmailError = "the email could not be sent; copy the link and send it yourself"
		return out, nil
	}
	out.EmailSent = true
	return out, nil
}

// checkInviter applies the role rules to who gives role: the operator may give any,
// a member only what CanChangeMember allows.
func checkInviter(by *Member, workspaceID string, role Role) error {
	if by == nil {
		return nil
	}
	if by.WorkspaceID != workspaceID || !by.Role.Can(ActManageMembers) {
		return ErrCannotManage
	}
	if !by.Role.CanChangeMember("", role) {
		return ErrRoleForbidden
	}
	return nil
}

// Link is the full link of a token.
func (s *Invitations) Link(token string) string { return s.cfg.BaseURL + "/invite/" + token }

// Pending lists a workspace's invitations that are still open, newest first.
func (s *Invitations) Pending(ctx context.Context, workspaceID string) ([]Invitation, error) {
	if _, err := s.team.Workspace(ctx, workspaceID); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	return s.store.Invitations(ctx, workspaceID, &now)
}

// Revoke withdraws an unanswered invitation: its link stops working. by follows the
// same rules as for Invite (an admin cannot withdraw an owner's invitation).
// Errors: invitation_not_found, invitation_used, invitation_revoked, members_forbidden, role_forbidden.
func (s *Invitations) Revoke(ctx context.Context, workspaceID, id string, by *Member) (Invitation, error) {
	inv, _, err := s.store.Invitation(ctx, id)
	if err != nil {
		return Invitation{}, err
	}
	if inv.WorkspaceID != workspaceID {
		return Invitation{}, ErrInvitationNotFound
	}
	if err := checkInviter(by, workspaceID, inv.Role); err != nil {
		return Invitation{}, err
	}
	return s.store.RevokeInvitation(ctx, workspaceID, id, s.cfg.Now().UTC().Truncate(time.Microsecond))
}

// Open is an invitation found by its link, with whether an account of its email exists.
type Open struct {
	Invitation
	HasAccount bool
}

// Lookup checks a link's token and returns its invitation while it is open, with
// the workspace's name. Errors: invitation_invalid (malformed, bad signature, unknown),
// invitation_expired, invitation_used, invitation_revoked.
func (s *Invitations) Lookup(ctx context.Context, token string) (Open, error) {
	inv, err := s.check(ctx, token)
	if err != nil {
		return Open{}, err
	}
	if ws, err := s.team.Workspace(ctx, inv.WorkspaceID); err == nil {
		inv.WorkspaceName = ws.Name
	}
	_, err = s.accounts.UserByEmail(ctx, inv.Email)
	if err != nil && !errs.Is(err, ErrUserNotFound.Code) {
		return Open{}, err
	}
	return Open{Invitation: inv, HasAccount: err == nil}, nil
}

// check verifies token's signature and expiry, loads its invitation and matches the
// stored hash, and reports the invitation's state as an error unless it is pending.
func (s *Invitations) check(ctx context.Context, token string) (Invitation, error) {
	key, err := s.signingKey(ctx)
	if err != nil {
		return Invitation{}, err
	}
	id, expires, ok := verifyToken(key, token)
	if !ok {
		return Invitation{}, ErrInvitationInvalid
	}
	inv, hash, err := s.store.Invitation(ctx, id)
	if errs.Is(err, ErrInvitationNotFound.Code) {
		return Invitation{}, ErrInvitationInvalid
	}
	if err != nil {
		return Invitation{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hash), []byte(HashSecret(token))) != 1 || !inv.ExpiresAt.Equal(expires) {
		return Invitation{}, ErrInvitationInvalid
	}
	switch inv.Status(s.cfg.Now()) {
	case InvitationAccepted:
		return Invitation{}, ErrInvitationUsed
	case InvitationRevoked:
		return Invitation{}, ErrInvitationRevoked
	case InvitationExpired:
		return Invitation{}, ErrInvitationExpired
	}
	return inv, nil
}

// AcceptNew answers an invitation by creating the account of its email, with a name and
// password, and making it a member with the invitation's role, in one transaction. It
// returns the user and the membership; the caller signs them in (Accounts.StartSession).
// Errors: those of Lookup, invalid_name, weak_password, password_too_long, email_taken
// (the account exists: sign in and use AcceptAs), password_check_busy (ErrPasswordBusy:
// the password hashing bound stayed full; nothing was stored).
func (s *Invitations) AcceptNew(ctx context.Context, token, name, password string) (User, Member, error) {
	inv, err := s.check(ctx, token)
	if err != nil {
		return User{}, Member{}, err
	}
	u, hash, err := s.accounts.newUser(inv.Email, name, password, false)
	if err != nil {
		return User{}, Member{}, err
	}
	m, err := s.store.AcceptInvitation(ctx, inv.ID, HashSecret(token), u.ID, &u, hash, s.accounts.stamp())
	if err != nil {
		return User{}, Member{}, err
	}
	return u, m, nil
}

// AcceptAs answers an invitation for an existing, signed-in user, whose email must be
// the invitation's. Errors: those of Lookup, invitation_email_mismatch, already_member.
func (s *Invitations) AcceptAs(ctx context.Context, token string, u User) (Member, error) {
	inv, err := s.check(ctx, token)
	if err != nil {
		return Member{}, err
	}
	if !strings.EqualFold(u.Email, inv.Email) {
		return Member{}, ErrInvitationEmail
	}
	return s.store.AcceptInvitation(ctx, inv.ID, HashSecret(token), u.ID, nil, "", s.accounts.stamp())
}

// signingKey returns the deployment's invitation key, making it on first use.
func (s *Invitations) signingKey(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	v, _, err := s.store.SetSettingIfAbsent(ctx, InvitationSecretSetting, ids.Random(32))
	if err != nil {
		return nil, err
	}
	s.key = []byte(v)
	return s.key, nil
}

// signToken makes "<id>.<expiry, Unix seconds>.<HMAC-SHA256 of both, base64url>".
func signToken(key []byte, id string, expires time.Time) string {
	payload := id + "." + strconv.FormatInt(expires.Unix(), 10)
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac(key, payload))
}

func mac(key []byte, payload string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("spectra-invitation\x00" + payload))
	return h.Sum(nil)
}

// verifyToken checks a token's form and signature and returns its id and expiry.
func verifyToken(key []byte, token string) (string, time.Time, bool) {
	if len(token) > 200 {
		return "", time.Time{}, false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" {
		return "", time.Time{}, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac(key, parts[0]+"."+parts[1])) {
		return "", time.Time{}, false
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return parts[0], time.Unix(sec, 0).UTC(), true
}
