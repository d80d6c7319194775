package team

import (
	"slices"

	"spectra/internal/errs"
)

// ErrLimitsLoosen is the code of a key-settings change refused because it would lift a
// limit and the member may only manage their own keys.
const ErrLimitsLoosen = "limits_loosen_forbidden"

// OnlyTightens reports whether change l, applied to key k, leaves every limit at least as
// strict as it is: the models allowed stay within those allowed now, rpm, tpm and the
// expiry do not rise or go away, and the project does not change (a key's project decides
// which project budgets count it). A member who may only manage their own keys
// (ActManageOwnKeys) may make such changes; lifting a limit that an admin set needs
// ActManageKeys. The error names the first limit the change would lift.
func (l KeyLimits) OnlyTightens(k APIKey) error {
	loosen := func(what string) error {
		return errs.E(errs.Forbidden, ErrLimitsLoosen, "only an owner or admin may lift this key's %s; you may only tighten it", what)
	}
	if l.AllowedModels != nil && len(k.AllowedModels) > 0 {
		if len(*l.AllowedModels) == 0 {
			return loosen("allowed models")
		}
		for _, m := range *l.AllowedModels {
			if !slices.Contains(k.AllowedModels, m) {
				return loosen("allowed models")
			}
		}
	}
	for _, c := range []struct {
		what string
		now  int
		to   *int
	}{{"requests per minute", k.RPM, l.RPM}, {"tokens per minute", k.TPM, l.TPM}} {
		if c.to != nil && c.now > 0 && (*c.to == 0 || *c.to > c.now) {
			return loosen(c.what)
		}
	}
	if l.Project != nil && *l.Project != k.Project {
		return loosen("project")
	}
	if l.ExpiresAt.Set && k.ExpiresAt != nil && (l.ExpiresAt.Time == nil || l.ExpiresAt.Time.After(*k.ExpiresAt)) {
		return loosen("expiry")
	}
	return nil
}
