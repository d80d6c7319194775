package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"spectra/internal/money"
)

// TestUpdateWorkspaceTimezone: PATCH /api/v1/workspaces/{id} sets the time zone; the
// workspace reads it back, and bad zones, bad bodies and unknown workspaces are refused
// with their codes, changing nothing.
func TestUpdateWorkspaceTimezone(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"})
		if ws.Timezone != "UTC" {
			t.Fatalf("a new workspace is in %q", ws.Timezone)
		}
		path := "/api/v1/workspaces/" + ws.ID
		var got workspaceOut
		e.call("PATCH", path, operatorToken, map[string]any{"timezone": "Europe/Berlin"}, 200, &got)
		if got.ID != ws.ID || got.Name != "Acme" || got.Timezone != "Europe/Berlin" || got.OverdraftLimit != "0.000000" {
			t.Fatalf("PATCH answered %+v", got)
		}
		e.call("GET", path, operatorToken, nil, 200, &got)
		if got.Timezone != "Europe/Berlin" {
			t.Fatalf("GET after PATCH: %+v", got)
		}
		// The same zone again, and an empty body, change nothing and succeed.
		e.call("PATCH", path, operatorToken, `{"timezone":"Europe/Berlin"}`, 200, &got)
		e.call("PATCH", path, operatorToken, `{}`, 200, &got)
		if got.Timezone != "Europe/Berlin" {
			t.Fatalf("after no-op PATCHes: %+v", got)
		}
		for _, tc := range []struct {
			body   string
			status int
			code   string
		}{
			{`{"timezone":"Mars/Olympus_Mons"}`, 400, "invalid_timezone"},
			{`{"timezone":"Local"}`, 400, "invalid_timezone"},
			{`{"timezone":"local"}`, 400, "invalid_timezone"},
			{`{"timezone":""}`, 400, "invalid_timezone"},
			{`{"timezone":"../../etc/passwd"}`, 400, "invalid_timezone"},
			{`{"timezone":"/usr/share/zoneinfo/UTC"}`, 400, "invalid_timezone"},
			{`{"timezone":"Europe/Berlin\u0000"}`, 400, "invalid_timezone"},
			{`{"timezone":"Europe/Berlin\n"}`, 400, "invalid_timezone"},
			{`{"timezone":"` + fmt.Sprintf("%0100d", 0) + `"}`, 400, "invalid_timezone"},
			{`{"timezone":5}`, 400, "invalid_field_type"},
			{`{"timezone":"UTC","price_list":"gold"}`, 404, "price_list_not_found"}, // the whole update refused
			{`{"timezone":"UTC","price_lists":"gold"}`, 400, "unknown_field"},
			{`{"name":"Other"}`, 400, "unknown_field"},
			{`{"timezone":"UTC"`, 400, "invalid_json"},
		} {
			e.wantError("PATCH", path, operatorToken, tc.body, tc.status, tc.code)
		}
		e.call("GET", path, operatorToken, nil, 200, &got)
		if got.Timezone != "Europe/Berlin" {
			t.Fatalf("a refused PATCH changed the zone: %+v", got)
		}
		e.wantError("PATCH", "/api/v1/workspaces/ws_nobody", operatorToken, `{"timezone":"UTC"}`, 404, "workspace_not_found")
	})
}

// TestUpdateWorkspaceOwnersOnly: only owners change a workspace's settings. An admin
// key whose member is an owner may; one whose member is an admin, billing member or
// viewer is refused 403 key_role_forbidden, and the zone stays as it was. Inference keys
// and other workspaces' keys are refused as on every route.
func TestUpdateWorkspaceOwnersOnly(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		other := e.workspace(map[string]any{"name": "Other"}).ID
		path := "/api/v1/workspaces/" + ws
		keyOf := func(role string) string {
			uid := e.member(ws, role+"@example.com", role)
			return e.key(ws, map[string]any{"name": role, "kind": "admin", "member_id": uid}).Key
		}
		owner := keyOf("owner")
		for _, role := range []string{"admin", "billing", "viewer"} {
			e.wantError("PATCH", path, keyOf(role), `{"timezone":"Asia/Tokyo"}`, 403, "key_role_forbidden")
		}
		e.wantError("PATCH", path, e.key(ws, map[string]any{"name": "infer"}).Key, `{"timezone":"Asia/Tokyo"}`, 403, "admin_key_required")
		e.wantError("PATCH", path, e.key(other, map[string]any{"name": "other", "kind": "admin"}).Key, `{"timezone":"Asia/Tokyo"}`, 403, "forbidden_workspace")
		e.wantError("PATCH", path, "", `{"timezone":"Asia/Tokyo"}`, 401, "unauthorized")
		var got workspaceOut
		e.call("GET", path, operatorToken, nil, 200, &got)
		if got.Timezone != "UTC" {
			t.Fatalf("a refused caller changed the zone to %q", got.Timezone)
		}
		e.call("PATCH", path, owner, map[string]any{"timezone": "Asia/Tokyo"}, 200, &got)
		if got.Timezone != "Asia/Tokyo" {
			t.Fatalf("the owner's PATCH: %+v", got)
		}
	})
}

// TestUpdateWorkspaceTimezoneRedatesDays: after a change, usage by day in the new zone
// (read from the daily rollups, rebuilt in the change's transaction) equals the hourly
// truth folded into the new zone's days, and verify finds every rollup right; events
// that arrive afterwards land on the new zone's days too.
func TestUpdateWorkspaceTimezoneRedatesDays(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"})
		e.price("gpt-a", "1.00", "0.50", "2.00")
		key := e.key(ws.ID, map[string]any{"name": "ci"})
		base := time.Date(2025, 3, 9, 0, 0, 0, 0, time.UTC)
		var events []any
		for i := range 100 { // every 37 minutes from 9 March 00:00 UTC: about two and a half days
			events = append(events, ev(fmt.Sprint("e", i), "gpt-a", base.Add(time.Duration(i)*37*time.Minute), int64(1000*(i+1)), 0, int64(10*i)))
		}
		if res := e.send(key.Key, events...); res.Accepted != len(events) {
			t.Fatalf("ingest: %+v", res)
		}
		berlin, _ := time.LoadLocation("Europe/Berlin")
		rng := "start=2025-03-08T00:00:00%2B01:00&end=2025-03-12T00:00:00%2B01:00"
		type day struct {
			requests, output int64
			cost             money.Amount
		}
		fold := func(u usageOut, daily bool) map[string]day {
			t.Helper()
			out := map[string]day{}
			for _, b := range u.Buckets {
				if daily && !b.Start.Equal(time.Date(b.Start.In(berlin).Year(), b.Start.In(berlin).Month(), b.Start.In(berlin).Day(), 0, 0, 0, 0, berlin)) {
					t.Fatalf("a day bucket starts at %s, not a Berlin midnight", b.Start)
				}
				k := b.Start.In(berlin).Format("2006-01-02")
				d := out[k]
				for _, r := range b.Results {
					c, err := money.Parse(r.Cost)
					if err != nil {
						t.Fatal(err)
					}
					d.requests, d.output, d.cost = d.requests+r.Requests, d.output+r.OutputTokens, d.cost+c
				}
				if d.requests > 0 {
					out[k] = d
				}
			}
			return out
		}
		truth := fold(e.usage(ws.ID, rng+"&bucket=1h"), false)
		if len(truth) != 3 {
			t.Fatalf("hourly truth spans %d Berlin days: %v", len(truth), truth)
		}

		e.call("PATCH", "/api/v1/workspaces/"+ws.ID, operatorToken, map[string]any{"timezone": "Europe/Berlin"}, 200, nil)
		u := e.usage(ws.ID, rng) // days of the workspace's zone, now Berlin's
		if u.Timezone != "Europe/Berlin" {
			t.Fatalf("usage is in %q", u.Timezone)
		}
		if got := fold(u, true); fmt.Sprint(got) != fmt.Sprint(truth) {
			t.Fatalf("Berlin days after the change: %v\nhourly truth:               %v", got, truth)
		}
		rep, err := e.db.Verify(context.Background())
		if err != nil || !rep.OK() {
			t.Fatalf("verify after the change: %v %+v", err, rep)
		}

		// 23:30 UTC on 11 March is 00:30 on the 12th in Berlin: a new day there.
		if res := e.send(key.Key, ev("late", "gpt-a", time.Date(2025, 3, 11, 23, 30, 0, 0, time.UTC), 5, 0, 7)); res.Accepted != 1 {
			t.Fatalf("ingest: %+v", res)
		}
		rng = "start=2025-03-08T00:00:00%2B01:00&end=2025-03-13T00:00:00%2B01:00"
		truth = fold(e.usage(ws.ID, rng+"&bucket=1h"), false)
		if got := fold(e.usage(ws.ID, rng), true); fmt.Sprint(got) != fmt.Sprint(truth) || got["2025-03-12"].requests != 1 {
			t.Fatalf("Berlin days after a later event: %v\nhourly truth:                    %v", got, truth)
		}
		// And back to UTC: the days follow again.
		e.call("PATCH", "/api/v1/workspaces/"+ws.ID, operatorToken, map[string]any{"timezone": "UTC"}, 200, nil)
		if u := e.usage(ws.ID, "start=2025-03-09T00:00:00Z&end=2025-03-13T00:00:00Z"); u.Timezone != "UTC" || len(u.Buckets) != 4 {
			t.Fatalf("back in UTC: %+v", u)
		}
		if rep, err := e.db.Verify(context.Background()); err != nil || !rep.OK() {
			t.Fatalf("verify after the change back: %v %+v", err, rep)
		}
	})
}
