package requestloghttp_test

import (
	"net/url"
	"slices"
	"testing"

	"spectra/internal/requestlog/requestloghttp"
)

// TestParseQueryNone: "-" asks for requests without a key, member or project.
func TestParseQueryNone(t *testing.T) {
	q, err := requestloghttp.ParseQuery(url.Values{"member": {"-"}, "key_id": {"-"}, "project": {"-"}, "model": {"gpt-4o"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.Members, []string{""}) || !slices.Equal(q.Keys, []string{""}) || !slices.Equal(q.Projects, []string{""}) || !slices.Equal(q.Models, []string{"gpt-4o"}) {
		t.Errorf("filter: %+v", q.Filter)
	}
}
