// Package notify delivers alerts by email and by webhook. Webhooks follow the Standard
// Webhooks convention (headers webhook-id, webhook-timestamp and webhook-signature, an
// HMAC-SHA256 over "<id>.<timestamp>.<body>" with the endpoint's whsec_ secret).
//
// Alerts (a budget threshold, a low balance, expiring credit) are written by the budget
// package into the alerts table, which is this package's outbox: a dispatcher claims
// each undispatched alert exactly once (a guarded update) and, in the same transaction,
// queues one delivery per enabled, matching webhook endpoint and one per email recipient.
// A sender claims due deliveries with a lease, sends them, and retries failures with
// exponential backoff.
package notify

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/mail"
	"spectra/internal/text"
)

// Event types a webhook endpoint may subscribe to.
const (
	EventBudgetThreshold = "budget.threshold" // spend crossed a budget's threshold
	EventBalanceLow      = "balance.low"      // available balance fell below the low-balance line
	EventCreditExpiring  = "credit.expiring"  // a credit lot expires within 7 days, with credit left
	EventTest            = "webhook.test"     // a test message sent on request to one endpoint
)

// EventTypes lists the alert event types an endpoint may filter on.
var EventTypes = []string{EventBudgetThreshold, EventBalanceLow, EventCreditExpiring}

// Delivery channels.
const (
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// Delivery statuses.
const (
	StatusPending   = "pending"   // waiting for its next attempt
	StatusDelivered = "delivered" // accepted (a 2xx answer, or the mail server took it)
	StatusFailed    = "failed"    // given up after MaxAttempts, or undeliverable
)

// Errors.
var (
	ErrEndpointNotFound = errs.E(errs.NotFound, "webhook_not_found", "this workspace has no such webhook endpoint")
	ErrInvalidCursor    = errs.E(errs.Invalid, "invalid_cursor", "cursor is not a delivery of this list")
)

// Endpoint is a workspace's webhook endpoint.
type Endpoint struct {
	ID          string    `json:"id"` // "whk_…"
	WorkspaceID string    `json:"workspace_id"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	EventTypes  []string  `json:"event_types"` // empty: every event type
	Secret      string    `json:"-"`           // "whsec_…"; shown only when made
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Wants reports whether the endpoint receives messages of event type t.
func (e Endpoint) Wants(t string) bool {
	if len(e.EventTypes) == 0 {
		return true
	}
	for _, x := range e.EventTypes {
		if x == t {
			return true
		}
	}
	return false
}

// EndpointInput is what a caller sets on an endpoint; nil fields keep their value on
// update (on create, Enabled defaults to true).
type EndpointInput struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
	EventTypes  *[]string `json:"event_types"`
}

// Limits on endpoint fields.
const (
	maxURL         = 2048
	maxDescription = 500
)

// ValidateURL checks that u is an absolute http or https URL with a host.
func ValidateURL(u string) error {
	if u == "" {
		return errs.E(errs.Invalid, "invalid_url", "url is required")
	}
	if len(u) > maxURL {
		return errs.E(errs.Invalid, "invalid_url", "url is longer than %d characters", maxURL)
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil || p.Fragment != "" {
		return errs.E(errs.Invalid, "invalid_url", "url must be an absolute http:// or https:// URL without credentials or fragment")
	}
	return nil
}

// apply sets in's fields on e and validates the result.
func (e *Endpoint) apply(in EndpointInput) error {
	if in.URL != nil {
		e.URL = strings.TrimSpace(*in.URL)
	}
	if in.Description != nil {
		e.Description = strings.TrimSpace(*in.Description)
	}
	if in.Enabled != nil {
		e.Enabled = *in.Enabled
	}
	if in.EventTypes != nil {
		seen := map[string]bool{}
		e.EventTypes = []string{}
		for _, t := range *in.EventTypes {
			if !slices.Contains(EventTypes, t) {
				return errs.E(errs.Invalid, "invalid_event_type", "event type %q is not one of %s", t, strings.Join(EventTypes, ", "))
			}
			if !seen[t] {
				seen[t] = true
				e.EventTypes = append(e.EventTypes, t)
			}
		}
	}
	if err := text.Valid("url", e.URL, false); err != nil {
		return err
	}
	if err := text.Valid("description", e.Description, true); err != nil {
		return err
	}
	if err := ValidateURL(e.URL); err != nil {
		return err
	}
	if len(e.Description) > maxDescription {
		return errs.E(errs.Invalid, "invalid_description", "description is longer than %d characters", maxDescription)
	}
	return nil
}

// Alert is the part of an alert row the notifier reads.
type Alert struct {
	ID          string // "alt_…": the webhook-id of its messages
	WorkspaceID string
	Kind        string          // an event type
	Subject     string          // the email subject
	Body        string          // the email text
	Payload     json.RawMessage // the webhook message's data
	CreatedAt   time.Time
}

// Delivery is one message to one destination, and how its sending went.
type Delivery struct {
	ID            string     `json:"id"` // "dlv_…"
	AlertID       string     `json:"alert_id,omitempty"`
	MessageID     string     `json:"message_id"`
	EventType     string     `json:"event_type"`
	WorkspaceID   string     `json:"workspace_id"`
	Channel       string     `json:"channel"`
	EndpointID    string     `json:"endpoint_id,omitempty"`
	Address       string     `json:"address,omitempty"`
	Subject       string     `json:"-"`
	Body          string     `json:"-"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	LastAttemptAt *time.Time `json:"last_attempt_at"`
	LastStatus    int        `json:"last_status"` // HTTP status of the last attempt; 0 = none
	LastError     string     `json:"last_error"`
	DeliveredAt   *time.Time `json:"delivered_at"`
	CreatedAt     time.Time  `json:"created_at"`

	// Filled by ClaimDeliveries for sending (webhook channel).
	LeaseUntil      time.Time `json:"-"`
	URL             string    `json:"-"`
	Secret          string    `json:"-"`
	EndpointEnabled bool      `json:"-"`
}

// Outcome is how one claimed attempt ended, written by CompleteDelivery.
type Outcome struct {
	ID          string
	Attempts    int       // the attempt number the claim gave (the guard, with LeaseUntil)
	LeaseUntil  time.Time // the claim's lease (the guard)
	Status      string    // StatusPending (retry at NextAttempt), StatusDelivered or StatusFailed
	NextAttempt time.Time
	HTTPStatus  int
	Error       string
	At          time.Time
}

// DeliveryFilter selects deliveries, newest first.
type DeliveryFilter struct {
	WorkspaceID string
	EndpointID  string // "" = every delivery of the workspace
	Limit       int
	Cursor      string // the id of the last delivery of the previous page
}

// Store is what notify needs of the database.
type Store interface {
	// CreateEndpoint stores a new endpoint.
	CreateEndpoint(ctx context.Context, e Endpoint) error
	// Endpoint returns one endpoint of a workspace (with its secret), or ErrEndpointNotFound.
	Endpoint(ctx context.Context, workspaceID, id string) (Endpoint, error)
	// Endpoints returns a workspace's endpoints, oldest first.
	Endpoints(ctx context.Context, workspaceID string) ([]Endpoint, error)
	// UpdateEndpoint saves e's url, description, enabled, event types, secret and
	// updated_at; ErrEndpointNotFound when it does not exist.
	UpdateEndpoint(ctx context.Context, e Endpoint) error
	// DeleteEndpoint deletes an endpoint and its deliveries; ErrEndpointNotFound.
	DeleteEndpoint(ctx context.Context, workspaceID, id string) error

	// UndispatchedAlerts returns the ids of up to limit alerts not yet dispatched, oldest first.
	UndispatchedAlerts(ctx context.Context, limit int) ([]string, error)
	// DispatchAlert claims alert id (sets dispatched_at = at where it is NULL) and, in the
	// same transaction, inserts the deliveries plan returns for it, given the
	// workspace's endpoints and the emails of its members with one of roles. It reports
	// false (and inserts nothing) when another dispatcher claimed it first. plan may run
	// more than once (a retried transaction) and must have no side effects.
	DispatchAlert(ctx context.Context, id string, at time.Time, roles []string,
		plan func(a Alert, endpoints []Endpoint, emails []string) []Delivery) (bool, error)
	// QueueDelivery inserts one delivery (a test message).
	QueueDelivery(ctx context.Context, d Delivery) error
	// ClaimDeliveries leases up to limit pending deliveries due at now (next_attempt_at
	// ≤ now, no unexpired lease) until leaseUntil, counting the attempt, each by a
	// guarded update: a delivery is claimed by one caller only. Webhook deliveries come
	// with their endpoint's URL, secret and enabled flag.
	ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Delivery, error)
	// CompleteDelivery records an attempt's outcome, only while the claim (attempts and
	// lease) still holds; it reports whether it did.
	CompleteDelivery(ctx context.Context, o Outcome) (bool, error)
	// Deliveries lists deliveries, newest first; ErrInvalidCursor for an unknown cursor.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// PruneDeliveries deletes delivered and failed deliveries created before before,
	// and reports how many.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
}

// Mailer sends one email (internal/mail's Sender has this shape).
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Message is one email.
type Message = mail.Message

// MailerFunc adapts a function to Mailer (internal/mail's Sender is one as it is).
type MailerFunc func(ctx context.Context, m Message) error

// Send calls f.
func (f MailerFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }
