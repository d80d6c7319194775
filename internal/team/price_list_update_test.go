package team

import (
	"encoding/json"
	"testing"

	"spectra/internal/errs"
)

// TestWorkspaceUpdatePriceList: price_list left out is not set, a name or "" or null
// sets it ("" and null both return to the catalog), another JSON type is
// invalid_field_type; a malformed name is invalid_price_list.
func TestWorkspaceUpdatePriceList(t *testing.T) {
	for _, tc := range []struct {
		body      string
		set       bool
		name      string
		decodeErr string
		validErr  string
	}{
		{`{}`, false, "", "", ""},
		{`{"timezone":"UTC"}`, false, "", "", ""},
		{`{"price_list":"enterprise-2026"}`, true, "enterprise-2026", "", ""},
		{`{"price_list":""}`, true, "", "", ""},
		{`{"price_list":null}`, true, "", "", ""},
		{`{"price_list":5}`, false, "", "invalid_field_type", ""},
		{`{"price_list":{"name":"x"}}`, false, "", "invalid_field_type", ""},
		{`{"price_list":"Enterprise 2026"}`, true, "Enterprise 2026", "", "invalid_price_list"},
	} {
		var u WorkspaceUpdate
		err := json.Unmarshal([]byte(tc.body), &u)
		if tc.decodeErr != "" {
			if errs.CodeOf(err) != tc.decodeErr {
				t.Errorf("%s: decode error %v, want %s", tc.body, err, tc.decodeErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if u.PriceList.Set != tc.set || u.PriceList.Name != tc.name {
			t.Errorf("%s: %+v", tc.body, u.PriceList)
		}
		if u.Empty() == (tc.set || tc.body == `{"timezone":"UTC"}`) {
			t.Errorf("%s: Empty() = %v", tc.body, u.Empty())
		}
		got := ""
		if err := u.Validate(); err != nil {
			got = errs.CodeOf(err)
		}
		if got != tc.validErr {
			t.Errorf("%s: Validate %q, want %q", tc.body, got, tc.validErr)
		}
	}
}
