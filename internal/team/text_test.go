package team_test

import (
	"context"
	"testing"

	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// TestTextRule: the team's text (workspace, key and user names, emails, a key's project
// and member) follows the text rule: a NUL or another control character is invalid_text
// and nothing is stored, on both databases (before, a NUL was stored on SQLite and a 500
// on PostgreSQL). The dashboard's forms reach the same service entry points.
func TestTextRule(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		for _, name := range []string{"a\x00b", "a\nb", "\x1b[1m", "a\u2028b", "a\x7f"} {
			_, err := f.team.CreateWorkspace(ctx, team.Workspace{Name: name})
			storetest.WantCode(t, err, "invalid_text")
		}
		ws := must[team.Workspace](t)(f.team.CreateWorkspace(ctx, team.Workspace{Name: "Acme"}))
		for _, k := range []team.APIKey{
			{WorkspaceID: ws.ID, Name: "ci\x00"},
			{WorkspaceID: ws.ID, Name: "ci", Project: "p\x00"},
			{WorkspaceID: ws.ID, Name: "ci", MemberID: "m\tx"},
		} {
			_, _, err := f.team.CreateKey(ctx, k)
			storetest.WantCode(t, err, "invalid_text")
		}
		for _, u := range [][2]string{{"a\x00@example.com", "A"}, {"a@example.com", "A\x00"}, {"a@example.com", "A\nB"}} {
			_, err := f.accounts.CreateUser(ctx, u[0], u[1], pw, false)
			storetest.WantCode(t, err, "invalid_text")
		}
		_, err := f.accounts.UserByEmail(ctx, "a\x00@example.com")
		storetest.WantCode(t, err, "invalid_text")

		if list := must[[]team.Workspace](t)(f.team.Workspaces(ctx)); len(list) != 1 {
			t.Fatalf("workspaces stored: %+v", list)
		}
		if keys := must[[]team.APIKey](t)(f.team.Keys(ctx, ws.ID)); len(keys) != 0 {
			t.Fatalf("keys stored: %+v", keys)
		}
		if has := must[bool](t)(f.accounts.HasUsers(ctx)); has {
			t.Fatal("a rejected user was stored")
		}
	})
}
