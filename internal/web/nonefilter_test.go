package web

import (
	"context"
	"encoding/csv"
	"html"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/pricing"
	"spectra/internal/team"
)

// TestDrillToNone: usage without a member, key or project (imported usage) has its
// breakdown row linked to the request log with "-", and that link shows exactly those
// requests; Usage reads "-" the same way.
func TestDrillToNone(t *testing.T) {
	eachLog(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		var bare []metering.Event
		var want []string
		for i := range 3 {
			id := "bare-" + strconv.Itoa(i)
			want = append(want, id)
			bare = append(bare, metering.Event{ID: id, WorkspaceID: f.ws, Model: "gpt-test", Timestamp: testNow.Add(-time.Duration(i+1) * time.Hour),
				Usage: pricing.Usage{Input: 100, Output: 10}, Source: "import", Status: 200})
		}
		res, err := e.metering.Ingest(context.Background(), bare)
		if err != nil || res.Accepted != len(bare) {
			t.Fatalf("ingest: %v %+v", err, res)
		}
		c := e.signedIn(f.users[team.RoleOwner].Email)
		ws := "/w/" + f.ws + "/"
		_, body := c.get(ws + "?period=7d")
		for _, dim := range []string{"key", "member", "project"} {
			link := ws + "requests?" + url.Values{dim: {"-"}, "period": {"7d"}}.Encode()
			if !strings.Contains(body, `href="`+html.EscapeString(link)+`"`) {
				t.Errorf("the overview's (no %s) row does not link to %s", dim, link)
			}
			st, page := c.get(link)
			if st != 200 {
				t.Fatalf("%s: %d", link, st)
			}
			got := rowIDs(page)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s lists %v, want %v", link, got, want)
			}
		}
		if _, page := c.get(ws + "requests?member=-&period=7d"); !strings.Contains(page, `<option value="-" selected>(no member)</option>`) {
			t.Error("the member filter does not say (no member)")
		}
		// A member's own requests are not among them, nor are theirs among the member's.
		if _, page := c.get(ws + "requests?period=7d&member=" + url.QueryEscape(f.keys["member-key"].MemberID)); slices.ContainsFunc(rowIDs(page), func(id string) bool { return strings.HasPrefix(id, "bare-") }) {
			t.Error("a member's requests include requests without a member")
		}
		// Usage of "(no member)": the three requests.
		_, text := c.get(ws + "usage.csv?period=7d&group=&member=-")
		recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
		if err != nil || len(recs) < 2 {
			t.Fatalf("usage csv: %v %q", err, text)
		}
		col := slices.Index(recs[0], "requests")
		var n int
		for _, r := range recs[1:] {
			v, _ := strconv.Atoi(r[col])
			n += v
		}
		if n != len(bare) {
			t.Errorf("usage without a member counts %d requests, want %d", n, len(bare))
		}
	})
}
