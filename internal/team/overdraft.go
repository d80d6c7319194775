package team

import (
	"context"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/text"
)

// OverdraftStore sets a workspace's overdraft limit; the store implements it beside
// Store (a separate interface, so Store's other implementations need not).
type OverdraftStore interface {
	SetOverdraftLimit(ctx context.Context, workspaceID string, limit money.Amount) error
}

// ErrInvalidOverdraft refuses a negative overdraft limit.
var ErrInvalidOverdraft = errs.E(errs.Invalid, "invalid_overdraft_limit", "the overdraft limit must be zero or more")

// SetOverdraftLimit sets how far below zero holds may take workspace id's available
// balance, and returns the workspace before and after. It is the operator's decision
// (credit risk), never a workspace role's: callers allow it to the operator alone
// (ActOperate). Errors: invalid_text, invalid_overdraft_limit, workspace_not_found,
// errs.Unavailable feature_unavailable when the store cannot set it.
func (s *Service) SetOverdraftLimit(ctx context.Context, id string, limit money.Amount) (before, after Workspace, err error) {
	if err := text.Line("workspace id", id, 0); err != nil {
		return Workspace{}, Workspace{}, err
	}
	if limit < 0 {
		return Workspace{}, Workspace{}, ErrInvalidOverdraft
	}
	st, ok := s.store.(OverdraftStore)
	if !ok {
		return Workspace{}, Workspace{}, errs.E(errs.Unavailable, "feature_unavailable", "this store cannot set overdraft limits")
	}
	if before, err = s.store.Workspace(ctx, id); err != nil {
		return Workspace{}, Workspace{}, err
	}
	if err := st.SetOverdraftLimit(ctx, id, limit); err != nil {
		return Workspace{}, Workspace{}, err
	}
	after, err = s.store.Workspace(ctx, id)
	return before, after, err
}
