package web

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"spectra/internal/team"
)

var apiURLRE = regexp.MustCompile(`<code class="api-url">GET ([^<]+)</code>`)

// TestCSVMatchesAPI: for each combination of period, group and filters, the CSV export
// has exactly the non-empty results of the JSON usage API for the same query, to the
// micro-unit, and as many rows as the page's table.
func TestCSVMatchesAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		c := e.signedIn(f.users[team.RoleViewer].Email)
		member := f.users[team.RoleMember].ID
		for _, tc := range []struct{ query, groupCol string }{
			{"period=7d&group=model", "model"},
			{"period=30d&group=", ""},
			{"period=today&group=key", "key_id"},
			{"period=30d&group=member", "member"},
			{"period=month&group=project", "project"},
			{"period=custom&from=2025-06-01&to=2025-06-12&group=model&model=mini-test", "model"},
			{"period=30d&group=key&member=" + member, "key_id"},
			{"period=7d&group=model&key=" + f.keys["member-key"].ID + "&project=proj-member-key", "model"},
			{"period=7d&group=model&model=no-such-model", "model"},
		} {
			st, page := c.get("/w/" + f.ws + "/usage?" + tc.query)
			if st != http.StatusOK {
				t.Fatalf("%s: page %d", tc.query, st)
			}
			m := apiURLRE.FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("%s: the page shows no API URL", tc.query)
			}
			st, text := c.get("/w/" + f.ws + "/usage.csv?" + tc.query)
			if st != http.StatusOK {
				t.Fatalf("%s: CSV %d", tc.query, st)
			}
			rows := readCSV(t, text)
			t.Run(tc.query, func(t *testing.T) { compareCSVWithAPI(t, e, rows, html.UnescapeString(m[1]), tc.groupCol) })
			want := len(rows) // a cost cell per row, and the total
			if len(rows) == 1 {
				want = 0 // no rows: an empty state, no table
			}
			if n := strings.Count(page, "<td class=\"num\" data-exact="); n != want {
				t.Errorf("%s: the table has %d cost cells, the CSV %d rows", tc.query, n, len(rows)-1)
			}
			if len(rows) > 1 && sumCSVCost(t, rows) != exactTotal(page) {
				t.Errorf("%s: CSV total %s, page total %s", tc.query, sumCSVCost(t, rows), exactTotal(page))
			}
		}
	})
}

var totalRE = regexp.MustCompile(`<tfoot>.*data-exact="([-0-9.]+)"`)

func exactTotal(page string) string {
	m := totalRE.FindStringSubmatch(strings.ReplaceAll(page, "\n", " "))
	if m == nil {
		return ""
	}
	return m[1]
}

func TestCSVEscapesFormulas(t *testing.T) {
	for in, want := range map[string]string{"=SUM(A1)": "'=SUM(A1)", "+1": "'+1", "-2": "'-2", "@x": "'@x", "prod": "prod", "": ""} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
