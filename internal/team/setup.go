package team

import (
	"context"

	"spectra/internal/errs"
	"spectra/internal/ids"
)

// SetupTokenSetting is the setting that holds the SHA-256 of the first-run setup token.
const SetupTokenSetting = "setup_token_hash"

// Setup errors. Match them with errs.Is(err, code).
var (
	ErrSetupDone         = errs.E(errs.Conflict, "setup_done", "Spectra is already set up; sign in instead")
	ErrInvalidSetupToken = errs.E(errs.Forbidden, "invalid_setup_token", "this setup link is not valid; use the newest link Spectra printed at start")
)

// SetupToken returns a fresh one-time setup token while no account exists, and "" once
// one does. Only its hash is stored, so each call makes a new token and the previous
// link stops working: `spectra serve` calls it once at start and prints
// /setup?token=…. The token stops working when setup completes.
func (a *Accounts) SetupToken(ctx context.Context) (string, error) {
	has, err := a.store.HasUsers(ctx)
	if err != nil || has {
		return "", err
	}
	token := ids.Random(20)
	if err := a.store.SetSetting(ctx, SetupTokenSetting, HashSecret(token)); err != nil {
		return "", err
	}
	return token, nil
}

// CompleteSetup creates the first account, as operator, with a workspace it owns
// (timezone UTC), in one transaction, and consumes the setup token.
// Errors: invalid_email, invalid_name, weak_password, password_too_long (of the user),
// invalid_name (of the workspace), setup_done when an account exists,
// invalid_setup_token when token is not the current one, password_check_busy
// (ErrPasswordBusy: the password hashing bound stayed full; nothing was stored).
func (a *Accounts) CompleteSetup(ctx context.Context, token, email, name, password, workspaceName string) (User, Workspace, error) {
	u, hash, err := a.newUser(email, name, password, true)
	if err != nil {
		return User{}, Workspace{}, err
	}
	w := Workspace{ID: ids.New("ws"), Name: workspaceName, CreatedAt: u.CreatedAt}
	if err := w.Validate(); err != nil {
		return User{}, Workspace{}, err
	}
	if err := a.store.CompleteSetup(ctx, HashSecret(token), u, hash, w); err != nil {
		return User{}, Workspace{}, err
	}
	return u, w, nil
}
