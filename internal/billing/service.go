package billing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/team"
)

// Service is billing's domain API: recharge, payments, codes, auto-recharge, documents.
type Service struct {
	cfg    Config
	store  Store
	ledger *ledger.Service
	teams  *team.Service
	meter  *metering.Service
	stripe *stripeAPI // nil when Stripe is not configured
	now    func() time.Time
	log    *slog.Logger
}

// New validates c, fills its defaults and returns the service. A configuration
// mistake (unknown currency form, min above max, a preset out of bounds, a bad public URL
// with Stripe on) is an error naming it.
func New(c Config, store Store, ledger *ledger.Service, teams *team.Service, meter *metering.Service) (*Service, error) {
	if err := c.setDefaults(); err != nil {
		return nil, err
	}
	s := &Service{cfg: c, store: store, ledger: ledger, teams: teams, meter: meter, now: c.Now, log: c.Log}
	if c.StripeSecretKey != "" {
		s.stripe = newStripeAPI(c)
	}
	return s, nil
}

func (c *Config) setDefaults() error {
	c.Currency = strings.ToUpper(strings.TrimSpace(c.Currency))
	if c.Currency == "" {
		c.Currency = "USD"
	}
	if !validCurrency(c.Currency) {
		return fmt.Errorf("billing: currency %q is not an ISO 4217 code", c.Currency)
	}
	unit := money.Amount(money.Scale)
	if c.MinRecharge == 0 {
		c.MinRecharge = 5 * unit
	}
	if c.MaxRecharge == 0 {
		c.MaxRecharge = 10_000 * unit
	}
	if c.Presets == nil { // the usual amounts that fit the bounds, else the minimum
		for _, p := range []money.Amount{10 * unit, 25 * unit, 50 * unit, 100 * unit} {
			if p >= c.MinRecharge && p <= c.MaxRecharge {
				c.Presets = append(c.Presets, p)
			}
		}
		if len(c.Presets) == 0 {
			c.Presets = []money.Amount{c.MinRecharge}
		}
	}
	if c.MinRecharge <= 0 || c.MaxRecharge < c.MinRecharge {
		return fmt.Errorf("billing: recharge bounds %s..%s are not a range of positive amounts", c.MinRecharge, c.MaxRecharge)
	}
	for _, a := range append([]money.Amount{c.MinRecharge, c.MaxRecharge}, c.Presets...) {
		if _, err := ToMinor(a, c.Currency); err != nil {
			return fmt.Errorf("billing: amount %s is not a whole number of %s minor units", a, c.Currency)
		}
	}
	for _, p := range c.Presets {
		if p < c.MinRecharge || p > c.MaxRecharge {
			return fmt.Errorf("billing: preset %s is outside the recharge bounds %s..%s", p, c.MinRecharge, c.MaxRecharge)
		}
	}
	c.Presets = slices.Clone(c.Presets)
	slices.Sort(c.Presets)
	if c.TaxRateBasisPoints < 0 || c.TaxRateBasisPoints > MaxTaxRate {
		return fmt.Errorf("billing: tax rate %d basis points is outside 0..%d", c.TaxRateBasisPoints, MaxTaxRate)
	}
	if c.TaxName == "" {
		c.TaxName = "Tax"
	}
	if c.NumberPrefix == "" {
		c.NumberPrefix = "SPEC"
	}
	if strings.ContainsAny(c.NumberPrefix, " /\\") {
		return fmt.Errorf("billing: number prefix %q must not hold spaces or slashes", c.NumberPrefix)
	}
	if err := c.Seller.Validate(); err != nil {
		return fmt.Errorf("billing: seller: %w", err)
	}
	if c.CheckoutReturnPath == "" {
		c.CheckoutReturnPath = "/w/{workspace_id}/billing"
	}
	if c.StripeSecretKey != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("billing: Stripe Checkout needs the public URL (SPECTRA_PUBLIC_URL) to send users back to; %q is not an absolute http(s) URL", c.PublicURL)
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	}
	if c.RedeemFailureLimit <= 0 {
		c.RedeemFailureLimit = 10
	}
	if c.RedeemWindow <= 0 {
		c.RedeemWindow = 15 * time.Minute
	}
	if c.WebhookTolerance <= 0 {
		c.WebhookTolerance = 5 * time.Minute
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return nil
}

// RechargeOptions is what the dashboard needs to draw the Recharge form.
type RechargeOptions struct {
	Currency     string         `json:"currency"`
	MinRecharge  money.Amount   `json:"min_recharge"`
	MaxRecharge  money.Amount   `json:"max_recharge"`
	Presets      []money.Amount `json:"presets"`
	MinorDigits  int            `json:"minor_digits"`
	StripeReady  bool           `json:"stripe_enabled"`
	StripeReason string         `json:"stripe_disabled_reason,omitempty"` // why the card button is absent
	TaxRateBP    int64          `json:"tax_rate_basis_points"`
	TaxName      string         `json:"tax_name"`
}

// Options returns the recharge bounds, presets and whether card payments are available.
func (s *Service) Options() RechargeOptions {
	o := RechargeOptions{Currency: s.cfg.Currency, MinRecharge: s.cfg.MinRecharge, MaxRecharge: s.cfg.MaxRecharge,
		Presets: slices.Clone(s.cfg.Presets), MinorDigits: money.MinorDigits(s.cfg.Currency), StripeReady: s.stripe != nil,
		TaxRateBP: s.cfg.TaxRateBasisPoints, TaxName: s.cfg.TaxName}
	if s.stripe == nil {
		o.StripeReason = ErrStripeNotConfigured.Message
	}
	return o
}

// Logger returns the logger billing writes to (for its transports).
func (s *Service) Logger() *slog.Logger { return s.log }

// Currency returns the deployment's currency.
func (s *Service) Currency() string { return s.cfg.Currency }

// location returns a workspace's time zone (UTC when it cannot be loaded).
func location(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil && name != "" {
		return loc
	}
	return time.UTC
}

// series returns the numbering series of a document issued at t: prefix and UTC year.
func (s *Service) series(t time.Time) string {
	return s.cfg.NumberPrefix + "-" + strconv.Itoa(t.UTC().Year())
}

// issuedNow returns the service's clock, truncated to what the store keeps.
func (s *Service) issuedNow() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// afterCredit re-arms auto-recharge once money came in; failures are only logged.
func (s *Service) afterCredit(ctx context.Context, workspaceID string) {
	if err := s.CheckAutoRecharge(ctx, workspaceID); err != nil {
		s.log.Error("billing: auto-recharge check after a credit", "workspace_id", workspaceID, "err", err)
	}
}
