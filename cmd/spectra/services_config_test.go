package main

import (
	"strings"
	"testing"
	"time"

	"spectra/internal/money"
)

func TestServiceConfig(t *testing.T) {
	cfg, err := parseServe(t, nil, map[string]string{
		"SPECTRA_SECRET_KEY":         strings.Repeat("ab", 32),
		"SPECTRA_GATEWAY_MAX_TOKENS": "8192",
		"SPECTRA_HOLD_TTL":           "5m",
		"SPECTRA_PUBLIC_URL":         "https://spectra.example.com/",
		"SPECTRA_RECHARGE_MIN":       "10",
		"SPECTRA_RECHARGE_PRESETS":   "10, 20",
		"SPECTRA_TAX_RATE":           "8.25",
		"SPECTRA_SELLER_NAME":        "Example Ltd",
		"SPECTRA_STRIPE_SECRET_KEY":  "sk_test_x",
		"SPECTRA_PAID_CREDIT_EXPIRY": "8760h",
	})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Services
	if len(s.SecretKey) != 32 || s.SecretKey[0] != 0xab {
		t.Errorf("secret key = %x", s.SecretKey)
	}
	if s.DefaultMaxTokens != 8192 || s.HoldTTL != 5*time.Minute || !s.SecureCookies {
		t.Errorf("gateway/dashboard settings = %+v", s)
	}
	b := s.Billing
	if b.PublicURL != "https://spectra.example.com" || b.MinRecharge != 10*money.Scale || len(b.Presets) != 2 ||
		b.TaxRateBasisPoints != 825 || b.Seller.Name != "Example Ltd" || b.StripeSecretKey != "sk_test_x" || b.Currency != "USD" ||
		b.PaidCreditExpiry != 8760*time.Hour {
		t.Errorf("billing = %+v", b)
	}

	def, err := parseServe(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if def.Services.SecretKey != nil || def.Services.DefaultMaxTokens != 4096 || def.Services.HoldTTL != 10*time.Minute ||
		def.Services.SecureCookies || def.Services.Billing.PublicURL != "http://127.0.0.1:8080" {
		t.Errorf("defaults = %+v", def.Services)
	}
}

func TestServiceConfigErrors(t *testing.T) {
	tests := map[string]map[string]string{
		"SPECTRA_SECRET_KEY":         {"SPECTRA_SECRET_KEY": "too-short"},
		"SPECTRA_GATEWAY_MAX_TOKENS": {"SPECTRA_GATEWAY_MAX_TOKENS": "-1"},
		"SPECTRA_HOLD_TTL":           {"SPECTRA_HOLD_TTL": "soon"},
		"SPECTRA_SECURE_COOKIES":     {"SPECTRA_SECURE_COOKIES": "maybe"},
		"SPECTRA_RECHARGE_MIN":       {"SPECTRA_RECHARGE_MIN": "0"},
		"SPECTRA_RECHARGE_PRESETS":   {"SPECTRA_RECHARGE_PRESETS": "10,x"},
		"SPECTRA_TAX_RATE":           {"SPECTRA_TAX_RATE": "8.255"},
		"SPECTRA_PAID_CREDIT_EXPIRY": {"SPECTRA_PAID_CREDIT_EXPIRY": "a year"},
		"SPECTRA_SELLER_":            {"SPECTRA_SELLER_COUNTRY": "Narnia"},
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parseServe(t, nil, env)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("error = %v; want one naming %s", err, name)
			}
		})
	}
}
