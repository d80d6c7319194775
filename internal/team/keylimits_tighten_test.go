package team

import (
	"testing"
	"time"

	"spectra/internal/errs"
)

// TestOnlyTightens: a change that keeps every limit at least as strict passes; each way
// of lifting one (more models or all of them, a higher or no rpm/tpm, another project, a
// later or no expiry) is refused with limits_loosen_forbidden.
func TestOnlyTightens(t *testing.T) {
	exp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := APIKey{AllowedModels: []string{"a", "b"}, RPM: 10, TPM: 1000, Project: "p", ExpiresAt: &exp}
	ints := func(n int) *int { return &n }
	strs := func(s ...string) *[]string { return &s }
	str := func(s string) *string { return &s }
	at := func(t time.Time) OptionalTime { return OptionalTime{Set: true, Time: &t} }
	for name, c := range map[string]struct {
		l  KeyLimits
		ok bool
	}{
		"nothing":           {KeyLimits{}, true},
		"the same":          {KeyLimits{AllowedModels: strs("a", "b"), RPM: ints(10), TPM: ints(1000), Project: str("p"), ExpiresAt: at(exp)}, true},
		"fewer models":      {KeyLimits{AllowedModels: strs("a")}, true},
		"lower rpm":         {KeyLimits{RPM: ints(1)}, true},
		"earlier expiry":    {KeyLimits{ExpiresAt: at(exp.Add(-time.Hour))}, true},
		"every model":       {KeyLimits{AllowedModels: strs()}, false},
		"another model":     {KeyLimits{AllowedModels: strs("a", "c")}, false},
		"higher rpm":        {KeyLimits{RPM: ints(11)}, false},
		"no rpm limit":      {KeyLimits{RPM: ints(0)}, false},
		"no tpm limit":      {KeyLimits{TPM: ints(0)}, false},
		"another project":   {KeyLimits{Project: str("q")}, false},
		"later expiry":      {KeyLimits{ExpiresAt: at(exp.Add(time.Hour))}, false},
		"no expiry":         {KeyLimits{ExpiresAt: OptionalTime{Set: true}}, false},
		"higher tpm":        {KeyLimits{TPM: ints(1001)}, false},
		"removed project":   {KeyLimits{Project: str("")}, false},
		"models, then more": {KeyLimits{AllowedModels: strs("b", "a", "z")}, false},
	} {
		err := c.l.OnlyTightens(k)
		if c.ok && err != nil || !c.ok && errs.CodeOf(err) != ErrLimitsLoosen {
			t.Errorf("%s: %v, want ok=%v", name, err, c.ok)
		}
	}
	// A key with no limits: any limit tightens it.
	free := APIKey{}
	if err := (KeyLimits{AllowedModels: strs("a"), RPM: ints(5), TPM: ints(5), ExpiresAt: at(exp)}).OnlyTightens(free); err != nil {
		t.Errorf("limits on a free key: %v", err)
	}
}
