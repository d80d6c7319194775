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

// TestGrantCreditKind: a grant takes a credit kind and an expiry, shows them, and a replay
// with another kind or expiry is a conflict; bad values have their own codes.
func TestGrantCreditKind(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		type grant struct {
			ID         int64   `json:"id"`
			Kind       string  `json:"kind"`
			CreditKind string  `json:"credit_kind"`
			ExpiresAt  *string `json:"expires_at"`
			LotID      int64   `json:"lot_id"`
		}
		path := "/api/v1/workspaces/" + ws + "/grants"
		exp := "2099-01-31T00:00:00Z"
		body := map[string]any{"amount": "5.00", "idempotency_key": "promo-1", "kind": "promotional", "expires_at": exp}
		var first, again, paid grant
		e.call("POST", path, operatorToken, body, 201, &first)
		if first.Kind != "grant" || first.CreditKind != "promotional" || first.ExpiresAt == nil || *first.ExpiresAt != exp || first.LotID == 0 {
			t.Fatalf("promotional grant: %+v", first)
		}
		e.call("POST", path, operatorToken, body, 200, &again)
		if again != first && (again.ID != first.ID || again.CreditKind != first.CreditKind || *again.ExpiresAt != exp) {
			t.Fatalf("replay %+v; first %+v", again, first)
		}
		e.wantError("POST", path, operatorToken, map[string]any{"amount": "5.00", "idempotency_key": "promo-1", "kind": "paid", "expires_at": exp}, 409, "idempotency_conflict")
		e.wantError("POST", path, operatorToken, map[string]any{"amount": "5.00", "idempotency_key": "promo-1", "kind": "promotional", "expires_at": "2099-02-01T00:00:00Z"}, 409, "idempotency_conflict")
		e.wantError("POST", path, operatorToken, map[string]any{"amount": "5.00", "idempotency_key": "promo-1", "kind": "promotional"}, 409, "idempotency_conflict")
		e.wantError("POST", path, operatorToken, map[string]any{"amount": "5.00", "idempotency_key": "x", "kind": "gift"}, 400, "invalid_credit_kind")
		e.wantError("POST", path, operatorToken, map[string]any{"amount": "5.00", "idempotency_key": "x", "expires_at": "31/01/2099"}, 400, "invalid_expires_at")
		e.wantError("POST", path, operatorToken, map[string]any{"amount": "5.00", "idempotency_key": "x", "expires_at": "2001-01-01T00:00:00Z"}, 400, "invalid_expires_at")
		e.call("POST", path, operatorToken, map[string]any{"amount": "1.00", "idempotency_key": "paid-1"}, 201, &paid)
		if paid.CreditKind != "paid" || paid.ExpiresAt != nil {
			t.Fatalf("default grant: %+v; want paid, never expiring", paid)
		}
		if b := e.balance(ws); b.Balance != "6.000000" {
			t.Fatalf("balance: %+v", b)
		}
	})
}
