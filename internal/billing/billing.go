// Package billing is how money comes into Spectra and how it is documented: recharge
// through Stripe Checkout, manual (bank transfer) payments, redemption codes and
// auto-recharge; receipts for every top-up, monthly usage statements and credit notes,
// numbered without gaps, immutable once issued, and rendered as PDF.
//
// Every top-up is a ledger transfer of kind payment from the payments account to the
// workspace's wallet, posted once by an idempotency key that names what was paid (a
// Checkout session, a PaymentIntent, a bank reference, a code), and its receipt is
// issued in the same database transaction. The package knows nothing of HTTP or SQL:
// billinghttp serves it, internal/store persists it.
package billing

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/text"
)

// Config is a deployment's billing configuration; cmd/spectra fills it from flags and
// the environment.
type Config struct {
	// Currency is the deployment's currency (ISO 4217, e.g. "USD"); every payment must be in it.
	Currency string
	// StripeSecretKey enables Stripe Checkout and auto-recharge; empty disables both.
	StripeSecretKey string
	// StripeWebhookSecret verifies the signature of Stripe's webhook calls ("whsec_…").
	StripeWebhookSecret string
	// StripeAPIURL replaces Stripe's API base URL (tests point it at a stand-in).
	StripeAPIURL string
	// PublicURL is where users reach Spectra (e.g. "https://spectra.example.com"); Checkout
	// sends them back there.
	PublicURL string
	// CheckoutReturnPath is the page (under PublicURL) Checkout returns to; "{workspace_id}"
	// is replaced by the workspace id. Default "/w/{workspace_id}/billing".
	CheckoutReturnPath string

	// MinRecharge and MaxRecharge bound a Checkout amount (defaults 5 and 10,000 units).
	MinRecharge, MaxRecharge money.Amount
	// Presets are the amounts the dashboard offers (default: those of 10, 25, 50 and 100
	// units within the bounds).
	Presets []money.Amount

	// Seller is the operator's billing identity, printed on every document.
	Seller Party
	// TaxRateBasisPoints is the tax rate included in top-ups (2000 = 20%); 0 means no tax.
	TaxRateBasisPoints int64
	// TaxName labels the tax on documents (default "Tax").
	TaxName string
	// NumberPrefix starts every document number (default "SPEC": SPEC-2026-000123).
	NumberPrefix string

	// RedeemFailureLimit failed redemptions per RedeemWindow, per workspace and per
	// client IP, lock redemption out (defaults 10 per 15 minutes).
	RedeemFailureLimit int
	RedeemWindow       time.Duration
	// WebhookTolerance is how old (or early) a webhook signature may be (default 5 minutes).
	WebhookTolerance time.Duration
	// PaidCreditExpiry is how long paid credit lasts when what adds it sets no expiry
	// (SPECTRA_PAID_CREDIT_EXPIRY, e.g. 8760h); 0: it never expires. The store applies it
	// to every paid credit lot (store.DB.SetPaidCreditExpiry); cmd/spectra wires it.
	PaidCreditExpiry time.Duration

	// HTTPClient makes calls to Stripe (default: a client with a 30 s timeout).
	HTTPClient *http.Client
	// RenderPDF draws a document as PDF (invoicepdf.Render); nil makes InvoicePDF
	// answer ErrPDFUnavailable.
	RenderPDF func(Invoice) ([]byte, error)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives billing's log lines (default slog.Default()).
	Log *slog.Logger
}

// Party is a seller's or buyer's billing identity as printed on documents.
type Party struct {
	Name       string `json:"name"`
	Email      string `json:"email"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Region     string `json:"region"`
	Country    string `json:"country"` // ISO 3166-1 alpha-2, upper case
	TaxID      string `json:"tax_id"`
}

// Validate trims p's fields and checks their lengths and the country code.
func (p *Party) Validate() error {
	fields := []struct {
		name string
		v    *string
		max  int
	}{
		{"name", &p.Name, 200}, {"email", &p.Email, 254}, {"line1", &p.Line1, 200}, {"line2", &p.Line2, 200},
		{"city", &p.City, 100}, {"postal_code", &p.PostalCode, 32}, {"region", &p.Region, 100},
		{"country", &p.Country, 2}, {"tax_id", &p.TaxID, 64},
	}
	for _, f := range fields {
		*f.v = strings.TrimSpace(*f.v)
		if err := text.Line(f.name, *f.v, 0); err != nil {
			return err
		}
		if !utf8.ValidString(*f.v) || utf8.RuneCountInString(*f.v) > f.max || strings.ContainsAny(*f.v, "\r\n\x00") {
			return errs.E(errs.Invalid, "invalid_billing_details", "%s must be one line of at most %d characters", f.name, f.max)
		}
	}
	p.Country = strings.ToUpper(p.Country)
	if p.Country != "" && (len(p.Country) != 2 || p.Country[0] < 'A' || p.Country[0] > 'Z' || p.Country[1] < 'A' || p.Country[1] > 'Z') {
		return errs.E(errs.Invalid, "invalid_billing_details", "country must be a two-letter ISO 3166 code")
	}
	if p.Email != "" && (!strings.Contains(p.Email, "@") || strings.ContainsAny(p.Email, " <>")) {
		return errs.E(errs.Invalid, "invalid_billing_details", "email %q is not an email address", p.Email)
	}
	return nil
}

// Lines returns p as printed: name, address lines, country, tax id; empty ones left out.
func (p Party) Lines() []string {
	var out []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	add(p.Name)
	add(p.Line1)
	add(p.Line2)
	add(strings.Join(nonEmpty(p.PostalCode, p.City), " "))
	add(strings.Join(nonEmpty(p.Region, p.Country), ", "))
	add(p.Email)
	if p.TaxID != "" {
		add("Tax ID: " + p.TaxID)
	}
	return out
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Errors the service and stores return. Match them with errs.Is(err, code).
var (
	ErrStripeNotConfigured = errs.E(errs.Unavailable, "stripe_not_configured",
		"card payments are not set up on this deployment (the operator has not set SPECTRA_STRIPE_SECRET_KEY); ask the operator for a bank transfer or a redemption code")
	ErrWebhookNotConfigured = errs.E(errs.Unavailable, "stripe_not_configured",
		"Stripe webhooks are not accepted: SPECTRA_STRIPE_WEBHOOK_SECRET is not set")
	ErrStripeUnavailable  = errs.E(errs.Unavailable, "stripe_unavailable", "Stripe did not accept the request; try again in a moment")
	ErrInvalidSignature   = errs.E(errs.Invalid, "invalid_signature", "the Stripe-Signature header does not match the payload")
	ErrSignatureTooOld    = errs.E(errs.Invalid, "signature_too_old", "the webhook signature's timestamp is outside the tolerance")
	ErrInvalidPayload     = errs.E(errs.Invalid, "invalid_payload", "the webhook payload is not a Stripe event")
	ErrCodeNotFound       = errs.E(errs.NotFound, "code_not_found", "no redemption code matches")
	ErrCodeExpired        = errs.E(errs.Invalid, "code_expired", "this redemption code has expired")
	ErrCodeRedeemed       = errs.E(errs.Conflict, "code_already_redeemed", "this redemption code has already been redeemed")
	ErrCodeDisabled       = errs.E(errs.Conflict, "code_disabled", "this redemption code has been disabled")
	ErrTooManyAttempts    = errs.E(errs.RateLimited, "too_many_attempts", "too many failed redemption attempts; wait a few minutes and try again")
	ErrInvoiceNotFound    = errs.E(errs.NotFound, "invoice_not_found", "no such invoice in this workspace")
	ErrCreditExceeds      = errs.E(errs.Conflict, "credit_exceeds_invoice", "the credit notes would exceed the invoice's total")
	ErrNoPaymentMethod    = errs.E(errs.Invalid, "no_saved_payment_method", "auto-recharge needs a saved card: complete one card top-up through Stripe Checkout first")
	ErrMonthNotEnded      = errs.E(errs.Invalid, "month_not_ended", "a statement can only be issued once the month has ended in the workspace's time zone")
	ErrNoticeNotFound     = errs.E(errs.NotFound, "notice_not_found", "no such notice in this workspace")
	ErrCreditNoteOfCredit = errs.E(errs.Invalid, "invalid_credit_note_target", "a credit note corrects a receipt or a statement, not another credit note")
)

// PaymentMethod says how a top-up was paid.
type PaymentMethod string

// Payment methods.
const (
	MethodCheckout     PaymentMethod = "stripe_checkout"
	MethodAutoRecharge PaymentMethod = "auto_recharge"
	MethodManual       PaymentMethod = "bank_transfer"
	MethodCode         PaymentMethod = "redemption_code"
)

// Label is the method as printed on a receipt.
func (m PaymentMethod) Label() string {
	switch m {
	case MethodCheckout:
		return "Card payment (Stripe Checkout)"
	case MethodAutoRecharge:
		return "Auto-recharge (saved card)"
	case MethodManual:
		return "Bank transfer"
	case MethodCode:
		return "Redemption code"
	}
	return string(m)
}

// PaymentRecord asks a store to post one top-up and, when it is posted now, to issue
// its receipt in the same transaction.
type PaymentRecord struct {
	Transfer ledger.TransferRequest // kind payment, payments → wallet; Key names what was paid
	Method   PaymentMethod
	// Receipt is the receipt to issue (without number, id or transfer); the store
	// numbers it and links it to the transfer.
	Receipt Invoice
}

// Payment is a posted top-up and its receipt.
type Payment struct {
	WorkspaceID   string        `json:"workspace_id"`
	Amount        money.Amount  `json:"amount"`
	Currency      string        `json:"currency"`
	Method        PaymentMethod `json:"method"`
	Reference     string        `json:"reference"`
	TransferID    int64         `json:"transfer_id"`
	ReceiptID     string        `json:"receipt_id"`
	ReceiptNumber string        `json:"receipt_number"`
	CreatedAt     time.Time     `json:"created_at"`
}

// Store is billing's persistence, implemented by internal/store. Each method is one
// database transaction.
type Store interface {
	// RecordPayment posts p.Transfer once by its key and, when posted now, issues
	// p.Receipt for it. A replay returns the earlier payment and false.
	// Errors: ledger.ErrConflict (same key, other contents), workspace_not_found.
	RecordPayment(ctx context.Context, p PaymentRecord) (Payment, bool, error)

	// CreateCodes stores a batch of redemption codes (hashes only).
	CreateCodes(ctx context.Context, codes []Code) error
	// CodeByHash finds a code by the hash of its text. Errors: ErrCodeNotFound.
	CodeByHash(ctx context.Context, hash string) (Code, error)
	// RedeemCode marks code codeID redeemed by p's workspace — a guarded update that only
	// matches an unredeemed, unexpired code at now — and records payment p, in one
	// transaction. Errors: ErrCodeRedeemed, ErrCodeExpired, ErrCodeNotFound.
	RedeemCode(ctx context.Context, codeID string, now time.Time, p PaymentRecord) (Payment, error)
	// DisableCode marks an unredeemed code disabled at now (a guarded update; a disabled
	// code is never redeemed) and returns it; a code disabled already is returned as it
	// is. Errors: ErrCodeNotFound, ErrCodeRedeemed.
	DisableCode(ctx context.Context, codeID string, now time.Time) (Code, error)
	// CodeBatches lists batches newest first, their codes counted by state at now.
	CodeBatches(ctx context.Context, f CodeBatchFilter, now time.Time) ([]CodeBatchSummary, error)
	// Codes lists codes by id, with the redeeming workspace's name.
	Codes(ctx context.Context, f CodeFilter) ([]Code, error)
	// AddRedeemFailure records one failed redemption under each scope.
	AddRedeemFailure(ctx context.Context, scopes []string, at time.Time) error
	// RedeemFailures counts the failures recorded under scope at or after since.
	RedeemFailures(ctx context.Context, scope string, since time.Time) (int, error)

	// BillingDetails returns a workspace's buyer details (the zero Party when none were saved).
	BillingDetails(ctx context.Context, workspaceID string) (Party, error)
	// SetBillingDetails saves a workspace's buyer details. Errors: workspace_not_found.
	SetBillingDetails(ctx context.Context, workspaceID string, p Party, at time.Time) error

	// IssueInvoice numbers inv in its series (gapless: the counter moves in the same
	// transaction) and stores it, once per inv.SourceKey: a second call returns the first
	// document and false. (RecordPayment sets a receipt's SourceKey to
	// "receipt:<transfer id>".) A credit note is refused with ErrCreditExceeds when the credit
	// notes of its original would exceed the original's total.
	IssueInvoice(ctx context.Context, inv Invoice) (Invoice, bool, error)
	// Invoice returns one document of a workspace with its lines. Errors: ErrInvoiceNotFound.
	Invoice(ctx context.Context, workspaceID, id string) (Invoice, error)
	// InvoiceBySource returns the document issued under a source key, and whether there is one.
	InvoiceBySource(ctx context.Context, sourceKey string) (Invoice, bool, error)
	// Invoices returns a page of a workspace's documents, newest first, without lines.
	Invoices(ctx context.Context, f InvoiceFilter) ([]Invoice, error)
	// CreditedTotal sums the credit notes issued against a document.
	CreditedTotal(ctx context.Context, invoiceID string) (money.Amount, error)

	// AutoRecharge returns a workspace's auto-recharge row (zero, not enabled, when none).
	AutoRecharge(ctx context.Context, workspaceID string) (AutoRecharge, error)
	// SetAutoRecharge saves settings; it arms auto-recharge and clears DisabledReason and PausedUntil.
	SetAutoRecharge(ctx context.Context, workspaceID string, s AutoRechargeSettings, at time.Time) (AutoRecharge, error)
	// SetStripeCustomer saves the workspace's Stripe customer (a new customer forgets the
	// saved payment method).
	SetStripeCustomer(ctx context.Context, workspaceID, customerID string, at time.Time) error
	// SetPaymentMethod saves the customer and card auto-recharge charges.
	SetPaymentMethod(ctx context.Context, workspaceID, customerID, paymentMethodID string, at time.Time) error
	// AutoRechargeState reads what CheckAutoRecharge needs in one query; false when the
	// workspace has no auto-recharge row.
	AutoRechargeState(ctx context.Context, workspaceID string) (AutoRechargeState, bool, error)
	// Rearm arms auto-recharge again when the wallet's available balance is at or above
	// the threshold (a guarded update); it reports whether it did.
	Rearm(ctx context.Context, workspaceID string, at time.Time) (bool, error)
	// StartAutoCharge disarms an armed, enabled, unpaused auto-recharge whose wallet is
	// below the threshold (a guarded update, so at most once per crossing) and records a
	// pending charge with id r.ChargeID — unless this month's charges plus this one would
	// pass the monthly cap: then it stays armed, is paused until r.MonthEnd, and
	// r.CapNotice is stored. All in one transaction.
	StartAutoCharge(ctx context.Context, r AutoChargeStart) (AutoCharge, StartOutcome, error)
	// SetAutoChargeIntent links a charge to its PaymentIntent.
	SetAutoChargeIntent(ctx context.Context, chargeID, intentID string, at time.Time) error
	// SucceedAutoCharge marks a charge succeeded.
	SucceedAutoCharge(ctx context.Context, chargeID, intentID string, at time.Time) error
	// FailAutoCharge marks a charge failed, disables the workspace's auto-recharge with
	// reason and stores n, once: it reports false when the charge had already failed.
	FailAutoCharge(ctx context.Context, chargeID, reason string, n Notice, at time.Time) (bool, error)
	// AutoChargedSince sums a workspace's pending and succeeded charges created at or after since.
	AutoChargedSince(ctx context.Context, workspaceID string, since time.Time) (money.Amount, error)

	// AddNotice stores a notice for a workspace's owners.
	AddNotice(ctx context.Context, n Notice) error
	// Notices returns a workspace's notices, newest first; dismissed ones only when asked.
	Notices(ctx context.Context, workspaceID string, includeDismissed bool) ([]Notice, error)
	// DismissNotice hides a notice. Errors: ErrNoticeNotFound.
	DismissNotice(ctx context.Context, workspaceID, id string, at time.Time) error
}
