package billing

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/stripe/stripe-go/v82"
)

// stripeAPI is the part of Stripe's API that billing calls, through stripe-go.
type stripeAPI struct {
	client *stripe.Client
}

func newStripeAPI(c Config) *stripeAPI {
	bc := &stripe.BackendConfig{
		HTTPClient:        c.HTTPClient,
		LeveledLogger:     stripeLogger{c.Log},
		MaxNetworkRetries: stripe.Int64(2),
	}
	if c.StripeAPIURL != "" {
		bc.URL = stripe.String(c.StripeAPIURL)
	}
	return &stripeAPI{client: stripe.NewClient(c.StripeSecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(bc)))}
}

func (a *stripeAPI) createCheckoutSession(ctx context.Context, p *stripe.CheckoutSessionCreateParams) (*stripe.CheckoutSession, error) {
	return a.client.V1CheckoutSessions.Create(ctx, p)
}

func (a *stripeAPI) checkoutSession(ctx context.Context, id string) (*stripe.CheckoutSession, error) {
	return a.client.V1CheckoutSessions.Retrieve(ctx, id, nil)
}

func (a *stripeAPI) createPaymentIntent(ctx context.Context, p *stripe.PaymentIntentCreateParams) (*stripe.PaymentIntent, error) {
	return a.client.V1PaymentIntents.Create(ctx, p)
}

// stripeLogger sends stripe-go's log lines to slog (its errors as warnings: billing
// logs the outcome that matters itself).
type stripeLogger struct{ log *slog.Logger }

// Debugf logs stripe-go's debug lines at debug level.
func (l stripeLogger) Debugf(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}

// Infof logs stripe-go's info lines at debug level (one per request).
func (l stripeLogger) Infof(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}

// Warnf logs stripe-go's warnings.
func (l stripeLogger) Warnf(format string, v ...any) {
	l.log.Warn("stripe: " + fmt.Sprintf(format, v...))
}

// Errorf logs stripe-go's errors as warnings.
func (l stripeLogger) Errorf(format string, v ...any) {
	l.log.Warn("stripe: " + fmt.Sprintf(format, v...))
}

// customerID, paymentMethodID and paymentIntentID return the id of an expandable
// Stripe object, or "".
func customerID(c *stripe.Customer) string {
	if c == nil {
		return ""
	}
	return c.ID
}

func paymentMethodID(pm *stripe.PaymentMethod) string {
	if pm == nil {
		return ""
	}
	return pm.ID
}

func paymentIntentID(pi *stripe.PaymentIntent) string {
	if pi == nil {
		return ""
	}
	return pi.ID
}
