package api_test

import "testing"

// TestGrantIdempotency: the same key replays without a second credit; another amount or
// note under the same key is a conflict that changes nothing.
func TestGrantIdempotency(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		type grant struct {
			ID             int64  `json:"id"`
			Kind           string `json:"kind"`
			WorkspaceID    string `json:"workspace_id"`
			Amount         string `json:"amount"`
			Currency       string `json:"currency"`
			IdempotencyKey string `json:"idempotency_key"`
			Note           string `json:"note"`
			CreatedAt      string `json:"created_at"`
		}
		path := "/api/v1/workspaces/" + ws + "/grants"
		body := map[string]any{"amount": "25.00", "idempotency_key": "promo-1", "note": "welcome"}
		var first, again grant
		e.call("POST", path, operatorToken, body, 201, &first)
		want := grant{ID: first.ID, Kind: "grant", WorkspaceID: ws, Amount: "25.000000", Currency: "USD",
			IdempotencyKey: "promo-1", Note: "welcome", CreatedAt: first.CreatedAt}
		if first != want || first.ID == 0 {
			t.Fatalf("grant: %+v", first)
		}
		e.call("POST", path, operatorToken, body, 200, &again)
		if again != first {
			t.Fatalf("replay: %+v, first %+v", again, first)
		}
		e.wantError("POST", path, operatorToken, map[string]any{"amount": "30.00", "idempotency_key": "promo-1", "note": "welcome"}, 409, "idempotency_conflict")
		e.wantError("POST", path, operatorToken, map[string]any{"amount": "25.00", "idempotency_key": "promo-1", "note": "other"}, 409, "idempotency_conflict")
		if b := e.balance(ws); b.Balance != "25.000000" {
			t.Fatalf("balance after replay and conflicts: %+v", b)
		}
		var txs struct {
			Transactions []struct{ Amount string } `json:"transactions"`
		}
		e.call("GET", "/api/v1/workspaces/"+ws+"/transactions", operatorToken, nil, 200, &txs)
		if len(txs.Transactions) != 1 {
			t.Fatalf("transactions: %+v", txs)
		}

		// The key is per workspace: another workspace may use the same one.
		other := e.workspace(map[string]any{"name": "Other"}).ID
		e.call("POST", "/api/v1/workspaces/"+other+"/grants", operatorToken, body, 201, nil)
		e.wantError("POST", "/api/v1/workspaces/ws_missing/grants", operatorToken, body, 404, "workspace_not_found")
	})
}
