package budget

import (
	"encoding/json"
	"time"

	"spectra/internal/money"
)

// Kinds of alert (the type of their webhook messages).
const (
	KindThreshold  = "budget.threshold"
	KindLowBalance = "balance.low"
)

// Alert is one crossing: a budget threshold reached in a period, or the available
// balance fallen below the low-balance line. It is stored exactly once, by DedupeKey.
type Alert struct {
	ID           string          `json:"id"` // "alt_…"
	WorkspaceID  string          `json:"workspace_id"`
	Kind         string          `json:"kind"`
	BudgetID     string          `json:"budget_id,omitempty"`
	Threshold    int             `json:"threshold"`    // percent; 0 for balance.low
	PeriodStart  time.Time       `json:"period_start"` // the crossing's time for balance.low
	DedupeKey    string          `json:"-"`
	Subject      string          `json:"subject"`
	Body         string          `json:"body"`
	Payload      json.RawMessage `json:"payload"`
	CreatedAt    time.Time       `json:"created_at"`
	DispatchedAt *time.Time      `json:"dispatched_at"`
}

// LowBalance is a workspace's low-balance line and its state. An armed line alerts when
// the available balance falls below it, then stays disarmed until the balance is back
// at or above it.
type LowBalance struct {
	WorkspaceID string       `json:"workspace_id"`
	Line        money.Amount `json:"low_balance_line"` // 0: off
	Armed       bool         `json:"armed"`
	Crossings   int64        `json:"crossings"`
}
