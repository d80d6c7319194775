package team

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/pricing"
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
	// PriceList is the price list (pricing.PriceList) the workspace's events are priced
	// by from now on: a list's name assigns it, "" or JSON null returns the workspace to
	// the catalog. Events already recorded keep the price they were given. Only the
	// operator assigns lists (the transports check it).
	PriceList OptionalName `json:"price_list"`
}

// OptionalName is a name an update may set or clear: Set reports that the update
// names the field at all, Name is its value ("" clears it). In JSON it is a string, or
// null (clears); a field left out is not Set.
type OptionalName struct {
	Set  bool
	Name string
}

// SetName is an OptionalName that sets name ("" clears).
func SetName(name string) OptionalName { return OptionalName{Set: true, Name: name} }

// UnmarshalJSON reads a string or null. Errors: errs.Invalid invalid_field_type.
func (o *OptionalName) UnmarshalJSON(b []byte) error {
	o.Set, o.Name = true, ""
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(b, &o.Name); err != nil {
		return errs.E(errs.Invalid, "invalid_field_type", "field \"price_list\" must be a JSON string or null")
	}
	return nil
}

// Validate checks the fields that are set. Errors: errs.Invalid invalid_timezone,
// invalid_price_list (a name that no list could have).
func (u *WorkspaceUpdate) Validate() error {
	if u.Timezone != nil {
		if err := ValidTimezone(*u.Timezone); err != nil {
			return err
		}
	}
	if u.PriceList.Set && u.PriceList.Name != "" && !pricing.ValidPriceList(u.PriceList.Name) {
		return errs.E(errs.Invalid, "invalid_price_list", "price_list %q is not a price list's name (lowercase letters, digits and ._- up to 64 characters), or null for the catalog", u.PriceList.Name)
	}
	return nil
}

// Empty reports whether u changes nothing.
func (u WorkspaceUpdate) Empty() bool { return u.Timezone == nil && !u.PriceList.Set }

// UpdateWorkspace applies u to workspace id and returns the workspace as it is after.
// Only owners may call it (ActManageWorkspace): the caller checks the role. A timezone
// change rebuilds the workspace's daily rollups by the new zone's days in the same
// transaction, so every figure read afterwards (usage by day, budgets, statements not
// yet issued) counts the new zone's days exactly; documents already issued keep the
// zone they were issued in. A price list assignment prices the events priced after it;
// recorded events keep their cost. An empty update changes nothing. Errors:
// invalid_text for an id that breaks the text rule, invalid_timezone,
// invalid_price_list, errs.NotFound workspace_not_found and price_list_not_found.
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
