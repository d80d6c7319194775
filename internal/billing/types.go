package billing

import (
	"spectra/internal/ledger"
	"time"

	"spectra/internal/money"
)

// Code is a stored redemption code. Its text is never stored, only its hash.
type Code struct {
	ID        string       `json:"id"`
	BatchID   string       `json:"batch_id"`
	Hash      string       `json:"-"`
	Hint      string       `json:"hint"` // the last four characters, to recognise it
	Amount    money.Amount `json:"amount"`
	ExpiresAt time.Time    `json:"expires_at"` // the last moment the code can be redeemed
	// The credit the code gives: its kind and expiry (nil: never, or the deployment's
	// paid-credit expiry for paid credit).
	CreditKind      ledger.CreditKind `json:"kind"`
	CreditExpiresAt *time.Time        `json:"credit_expires_at"`
	Note            string            `json:"note,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	RedeemedAt      *time.Time        `json:"redeemed_at"`
	RedeemedBy      string            `json:"redeemed_by,omitempty"` // workspace id
	// RedeemedByName is the redeeming workspace's name, in listings.
	RedeemedByName string     `json:"redeemed_by_name,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	// State is CodeState at the time of a listing (Service.Codes, DisableCode).
	State string `json:"state,omitempty"`
}

// AutoRechargeSettings are what a workspace chooses.
type AutoRechargeSettings struct {
	Enabled    bool         `json:"enabled"`
	Threshold  money.Amount `json:"threshold"`   // charge when available balance falls below this
	Amount     money.Amount `json:"amount"`      // how much each charge adds
	MonthlyCap money.Amount `json:"monthly_cap"` // the most auto-recharge charges per calendar month
}

// AutoRecharge is a workspace's auto-recharge: its settings and its state.
type AutoRecharge struct {
	WorkspaceID string `json:"workspace_id"`
	AutoRechargeSettings
	// Armed is true until a crossing below the threshold fires a charge, and again once
	// the available balance is back at or above the threshold.
	Armed              bool   `json:"armed"`
	PaymentMethodSaved bool   `json:"payment_method_saved"`
	DisabledReason     string `json:"disabled_reason,omitempty"` // why it was switched off, when Spectra did it
	// PausedUntil is set when the monthly cap stopped a charge: none is made before it
	// (the start of the next month in the workspace's time zone).
	PausedUntil      *time.Time   `json:"paused_until,omitempty"`
	ChargedThisMonth money.Amount `json:"charged_this_month"`
	UpdatedAt        *time.Time   `json:"updated_at,omitempty"`

	StripeCustomer      string `json:"-"`
	StripePaymentMethod string `json:"-"`
}

// AutoRechargeState is the hot-path view CheckAutoRecharge reads in one query.
type AutoRechargeState struct {
	Enabled     bool
	Armed       bool
	Threshold   money.Amount
	Available   money.Amount
	Timezone    string
	PausedUntil time.Time // zero when not paused
}

// AutoChargeStart asks StartAutoCharge for one charge.
type AutoChargeStart struct {
	WorkspaceID string
	ChargeID    string
	Now         time.Time
	// MonthStart and MonthEnd bound the workspace's current month: the cap counts the
	// charges since MonthStart, and a charge the cap stops pauses auto-recharge until MonthEnd.
	MonthStart, MonthEnd time.Time
	CapNotice            Notice // stored when the cap stops the charge
}

// StartOutcome is what StartAutoCharge did.
type StartOutcome int

// Start outcomes.
const (
	NotArmed   StartOutcome = iota // not armed, not enabled, paused, or not below the threshold: nothing changed
	Started                        // disarmed and a pending charge recorded
	CapReached                     // no charge: the monthly cap would be passed; paused until the month ends
)

// AutoCharge is one auto-recharge charge: at most one per crossing of the threshold.
type AutoCharge struct {
	ID              string       `json:"id"`
	WorkspaceID     string       `json:"workspace_id"`
	Crossing        int64        `json:"crossing"`
	Amount          money.Amount `json:"amount"`
	Status          string       `json:"status"` // pending, succeeded, failed
	PaymentIntent   string       `json:"payment_intent,omitempty"`
	Customer        string       `json:"-"`
	PaymentMethodID string       `json:"-"`
	CreatedAt       time.Time    `json:"created_at"`
}

// Notice is a message for a workspace's owners, shown on the dashboard until dismissed.
type Notice struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"workspace_id"`
	Kind        string     `json:"kind"` // auto_recharge_failed, auto_recharge_cap_reached, payment_failed
	Message     string     `json:"message"`
	CreatedAt   time.Time  `json:"created_at"`
	DismissedAt *time.Time `json:"dismissed_at,omitempty"`
}

// Notice kinds.
const (
	NoticeAutoRechargeFailed = "auto_recharge_failed"
	NoticeAutoRechargeCap    = "auto_recharge_cap_reached"
	NoticePaymentFailed      = "payment_failed"
)
