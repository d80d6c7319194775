package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"spectra/internal/billing"
	"spectra/internal/mail"
	"spectra/internal/money"
)

// ServiceConfig is what serve reads from the environment only (secrets never go on a
// command line, and these settings rarely change between runs).
type ServiceConfig struct {
	// Gateway.
	SecretKey        []byte        // SPECTRA_SECRET_KEY: 32 bytes, hex or base64; encrypts upstream secrets
	UpstreamsFile    string        // SPECTRA_UPSTREAMS_FILE: JSON list of upstreams
	DefaultMaxTokens int           // SPECTRA_GATEWAY_MAX_TOKENS: output ceiling for holds when a request sets none
	HoldTTL          time.Duration // SPECTRA_HOLD_TTL: how long a gateway hold lives (Go duration)
	NodeID           string        // SPECTRA_NODE_ID: this gateway node's stable id (nodeid.go)
	NodeIDFrom       string        // where NodeID came from, for the start-up log
	DataDir          string        // SPECTRA_DATA_DIR: the gateway's settle journal (datadir.go)
	JournalSync      bool          // SPECTRA_JOURNAL_SYNC: answers wait for the journal's fsync (datadir.go)

	// Dashboard.
	SecureCookies bool // SPECTRA_SECURE_COOKIES: true behind TLS (default: true when SPECTRA_PUBLIC_URL is https)

	// Billing.
	Billing billing.Config

	// Notifications.
	WebhookAllowPrivate bool // SPECTRA_WEBHOOK_ALLOW_PRIVATE: let webhooks reach loopback and private addresses
	// Team rollout.
	Mail          *mail.SMTP    // SPECTRA_SMTP_URL: where emails go; nil sends none (links are still shown)
	InvitationTTL time.Duration // SPECTRA_INVITATION_TTL: how long an invitation link works (default 7 days)
}

// Service environment variables.
const (
	envSecretKey     = "SPECTRA_SECRET_KEY"
	envUpstreamsFile = "SPECTRA_UPSTREAMS_FILE"
	envMaxTokens     = "SPECTRA_GATEWAY_MAX_TOKENS"
	envHoldTTL       = "SPECTRA_HOLD_TTL"
	envSecureCookies = "SPECTRA_SECURE_COOKIES"
	envPublicURL     = "SPECTRA_PUBLIC_URL"
	envWebhookPriv   = "SPECTRA_WEBHOOK_ALLOW_PRIVATE"
)

// readServices fills c.Services from the environment, naming the variable of any bad value.
func (c *Config) readServices(env lookupEnv) error {
	get := func(name string) string {
		v, _ := env(name)
		return strings.TrimSpace(v)
	}
	s := &c.Services
	if v := get(envSecretKey); v != "" {
		key, err := decodeKey(v)
		if err != nil {
			return fmt.Errorf("%s: %v", envSecretKey, err)
		}
		s.SecretKey = key
	}
	s.UpstreamsFile = get(envUpstreamsFile)
	s.DefaultMaxTokens = 4096
	if v := get(envMaxTokens); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("%s=%q: must be a positive whole number of tokens", envMaxTokens, v)
		}
		s.DefaultMaxTokens = n
	}
	s.HoldTTL = 10 * time.Minute
	if v := get(envHoldTTL); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return fmt.Errorf("%s=%q: must be a duration of at least 1s, like 10m", envHoldTTL, v)
		}
		s.HoldTTL = d
	}
	var err error
	if s.NodeID, s.NodeIDFrom, err = nodeID(get(envNodeID), c.Addr, osHostname); err != nil {
		return err
	}
	if s.DataDir, err = dataDir(get(envDataDir), c.Database, osGetenv); err != nil {
		return err
	}
	if v := get(envJournalSync); v != "" {
		if s.JournalSync, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%s=%q: must be true or false", envJournalSync, v)
		}
	}
	public := strings.TrimRight(get(envPublicURL), "/")
	s.SecureCookies = strings.HasPrefix(public, "https://")
	if v := get(envSecureCookies); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q: must be true or false", envSecureCookies, v)
		}
		s.SecureCookies = b
	}
	if v := get(envWebhookPriv); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q: must be true or false", envWebhookPriv, v)
		}
		s.WebhookAllowPrivate = b
	}

	b := &s.Billing
	b.Currency = c.Currency
	b.StripeSecretKey = get("SPECTRA_STRIPE_SECRET_KEY")
	b.StripeWebhookSecret = get("SPECTRA_STRIPE_WEBHOOK_SECRET")
	b.PublicURL = public
	if b.PublicURL == "" {
		b.PublicURL = "http://" + displayAddrString(c.Addr)
	}
	for _, a := range []struct {
		name string
		dst  *money.Amount
	}{{"SPECTRA_RECHARGE_MIN", &b.MinRecharge}, {"SPECTRA_RECHARGE_MAX", &b.MaxRecharge}} {
		if v := get(a.name); v != "" {
			amt, err := money.ParsePositive(v)
			if err != nil {
				return fmt.Errorf("%s=%q: %v", a.name, v, err)
			}
			*a.dst = amt
		}
	}
	presets, err := billing.ParseAmounts(get("SPECTRA_RECHARGE_PRESETS"))
	if err != nil {
		return fmt.Errorf("SPECTRA_RECHARGE_PRESETS: %v", err)
	}
	b.Presets = presets
	b.Seller = billing.Party{
		Name: get("SPECTRA_SELLER_NAME"), Email: get("SPECTRA_SELLER_EMAIL"), Line1: get("SPECTRA_SELLER_LINE1"),
		Line2: get("SPECTRA_SELLER_LINE2"), City: get("SPECTRA_SELLER_CITY"), PostalCode: get("SPECTRA_SELLER_POSTAL_CODE"),
		Region: get("SPECTRA_SELLER_REGION"), Country: get("SPECTRA_SELLER_COUNTRY"), TaxID: get("SPECTRA_SELLER_TAX_ID"),
	}
	if err := b.Seller.Validate(); err != nil {
		return fmt.Errorf("SPECTRA_SELLER_*: %v", err)
	}
	if b.TaxRateBasisPoints, err = billing.ParseTaxRate(get("SPECTRA_TAX_RATE")); err != nil {
		return fmt.Errorf("SPECTRA_TAX_RATE: %v", err)
	}
	if b.PaidCreditExpiry, err = billing.ParsePaidCreditExpiry(get("SPECTRA_PAID_CREDIT_EXPIRY")); err != nil {
		return fmt.Errorf("SPECTRA_PAID_CREDIT_EXPIRY: %v", err)
	}
	b.TaxName = get("SPECTRA_TAX_NAME")
	b.NumberPrefix = get("SPECTRA_INVOICE_PREFIX")
	return s.readTeam(get)
}

// decodeKey reads a 32-byte key written as 64 hex digits or as base64.
func decodeKey(v string) ([]byte, error) {
	if b, err := hex.DecodeString(v); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, fmt.Errorf("must be 32 random bytes as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)")
}

// displayAddrString is a listen address as a person would type it in a browser.
func displayAddrString(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "localhost" + addr
	}
	return strings.Replace(addr, "0.0.0.0", "localhost", 1)
}
