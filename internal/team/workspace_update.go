package team

import (
	"context"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/text"
)

// ErrInvalidTimezone is the code of a time zone that is not an IANA zone name.
const ErrInvalidTimezone = "invalid_timezone"

// maxTimezone bounds a zone name (the longest IANA name is about 30 bytes).
const maxTimezone = 64

// ValidTimezone checks that name is an IANA time zone name this deployment knows
// ("UTC", "Europe/Berlin"): a line of text under the text rule, at most 64 bytes, that
// time.LoadLocation loads. "" and "Local" (the server's own zone, which differs from
// host to host) are refused. Errors: errs.Invalid invalid_timezone.
func ValidTimezone(name string) error {
	if name == "" || strings.EqualFold(name, "local") || text.Line("timezone", name, maxTimezone) != nil {
		return errs.E(errs.Invalid, ErrInvalidTimezone, "timezone %q is not an IANA time zone (such as \"Europe/Berlin\")", name)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return errs.E(errs.Invalid, ErrInvalidTimezone, "timezone %q is not an IANA time zone (such as \"Europe/Berlin\")", name)
	}
	return nil
}

// WorkspaceUpdate changes a workspace's settings; a nil field stays as it is. A new
// setting (a price list, say) is a new pointer field here, a check in Validate, and its
// column in the store's UpdateWorkspace, which applies every field in one transaction.
type WorkspaceUpdate struct {
	// Timezone is the IANA zone whose days and months the workspace's dashboard, daily
	// rollups, budgets and statements count. Changing it rebuilds the daily rollups.
	Timezone *string `json:"timezone"`
}

// Validate checks the fields that are set. Errors: errs.Invalid invalid_timezone.
func (u *WorkspaceUpdate) Validate() error {
	if u.Timezone != nil {
		if err := ValidTimezone(*u.Timezone); err != nil {
			return err
		}
	}
	return nil
}

// Empty reports whether u changes nothing.
func (u WorkspaceUpdate) Empty() bool { return u.Timezone == nil }

// UpdateWorkspace applies u to workspace id and returns the workspace as it is after.
// Only owners may call it (ActManageWorkspace): the caller checks the role. A timezone
// change rebuilds the workspace's daily rollups by the new zone's days in the same
// transaction, so every figure read afterwards (usage by day, budgets, statements not
// yet issued) counts the new zone's days exactly; documents already issued keep the
// zone they were issued in. An empty update changes nothing. Errors: invalid_text for
// an id that breaks the text rule, invalid_timezone, errs.NotFound workspace_not_found.
func (s *Service) UpdateWorkspace(ctx context.Context, id string, u WorkspaceUpdate) (Workspace, error) {
	if err := text.Line("workspace id", id, 0); err != nil {
		return Workspace{}, err
	}
	if err := u.Validate(); err != nil {
		return Workspace{}, err
	}
	if !u.Empty() {
		if err := s.store.UpdateWorkspace(ctx, id, u); err != nil {
			return Workspace{}, err
		}
	}
	return s.store.Workspace(ctx, id)
}
