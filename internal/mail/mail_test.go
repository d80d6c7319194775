package mail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"spectra/internal/mail"
	"spectra/internal/mail/smtptest"
)

func TestNewParsesURL(t *testing.T) {
	cases := []struct {
		url, addr, from string
	}{
		{"smtp://mail.example.com", "mail.example.com:587", `"Spectra" <spectra@localhost>`},
		{"smtps://mail.example.com", "mail.example.com:465", `"Spectra" <spectra@localhost>`},
		{"smtp://user:pw@mail.example.com:2525", "mail.example.com:2525", `"Spectra" <spectra@localhost>`},
		{"smtp://billing%40example.com:pw@mail.example.com", "mail.example.com:587", "<billing@example.com>"},
		{"smtp://u:p@host:587?from=Spectra%20%3Cbilling@example.com%3E", "host:587", `"Spectra" <billing@example.com>`},
		{"smtp://host?from=ops@example.com", "host:587", "<ops@example.com>"},
	}
	for _, c := range cases {
		s, err := mail.New(c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if s.Addr() != c.addr || s.From() != c.from {
			t.Errorf("%s: addr %q from %q, want %q %q", c.url, s.Addr(), s.From(), c.addr, c.from)
		}
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{
		"http://host",
		"smtp://",
		"smtp://host?from=not%20an%20address",
		"smtp://host?form=a@example.com",
		"::bad",
	} {
		if _, err := mail.New(u); err == nil {
			t.Errorf("%s: no error", u)
		}
	}
}

func TestSendPlain(t *testing.T) {
	srv := smtptest.New(t)
	s, err := mail.New(srv.URL() + "?from=Spectra%20%3Cbilling@example.com%3E")
	if err != nil {
		t.Fatal(err)
	}
	text := "Hello,\n.a line with a leading dot\nand ünïcode, and a long line " + strings.Repeat("x", 100) + "\n"
	if err := s.Send(context.Background(), mail.Message{To: []string{"Ann <ann@example.com>"}, Subject: "Invitation — Acme", Text: text}); err != nil {
		t.Fatal(err)
	}
	m := srv.WaitTo(t, "ann@example.com", 2*time.Second)
	if m.From != "billing@example.com" {
		t.Errorf("envelope from = %q", m.From)
	}
	if m.Subject != "Invitation — Acme" {
		t.Errorf("subject = %q", m.Subject)
	}
	if m.Body != text {
		t.Errorf("body = %q, want %q", m.Body, text)
	}
	if got := m.Header.Get("From"); !strings.Contains(got, "billing@example.com") {
		t.Errorf("From header = %q", got)
	}
	if m.Header.Get("Message-ID") == "" || m.Header.Get("Date") == "" {
		t.Errorf("headers = %v", m.Header)
	}
}

func TestSendSTARTTLSAndAuth(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "s3cret"))
	s, err := mail.New(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	s.TLSConfig = srv.ClientTLSConfig()
	if err := s.Send(context.Background(), mail.Message{To: []string{"bo@example.com"}, Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	m := srv.WaitTo(t, "bo@example.com", 2*time.Second)
	if !m.TLS || m.AuthUser != "mailer" {
		t.Fatalf("tls=%v auth=%q, want STARTTLS and AUTH", m.TLS, m.AuthUser)
	}
}

func TestSendImplicitTLS(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithImplicitTLS(), smtptest.WithAuth("mailer", "pw"))
	s, err := mail.New(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	s.TLSConfig = srv.ClientTLSConfig()
	if err := s.Send(context.Background(), mail.Message{To: []string{"cy@example.com"}, Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	if m := srv.WaitTo(t, "cy@example.com", 2*time.Second); !m.TLS || m.AuthUser != "mailer" {
		t.Fatalf("tls=%v auth=%q", m.TLS, m.AuthUser)
	}
}

func TestSendUntrustedCertificateFails(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithSTARTTLS())
	s, _ := mail.New(srv.URL())
	if err := s.Send(context.Background(), mail.Message{To: []string{"x@example.com"}, Subject: "s", Text: "t"}); err == nil {
		t.Fatal("sent over TLS to a server with an untrusted certificate")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages recorded", n)
	}
}

func TestSendErrors(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithAuth("u", "right"))
	bad, _ := mail.New("smtp://u:wrong@" + srv.Addr())
	if err := bad.Send(context.Background(), mail.Message{To: []string{"x@example.com"}, Subject: "s", Text: "t"}); err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("wrong password: %v", err)
	}
	noauth, _ := mail.New("smtp://" + srv.Addr())
	if err := noauth.Send(context.Background(), mail.Message{To: []string{"x@example.com"}, Subject: "s", Text: "t"}); err == nil {
		t.Fatal("sent without AUTH to a server that requires it")
	}
	plain := smtptest.New(t)
	wantsAuth, _ := mail.New("smtp://u:p@" + plain.Addr())
	if err := wantsAuth.Send(context.Background(), mail.Message{To: []string{"x@example.com"}, Subject: "s", Text: "t"}); err == nil {
		t.Fatal("URL has a user but the server offers no AUTH: no error")
	}
	s, _ := mail.New(plain.URL())
	for _, m := range []mail.Message{
		{Subject: "s", Text: "t"},
		{To: []string{"not an address"}, Subject: "s", Text: "t"},
		{To: []string{"x@example.com"}, Subject: "s\r\nBcc: evil@example.com", Text: "t"},
	} {
		if err := s.Send(context.Background(), m); err == nil {
			t.Errorf("%+v: no error", m)
		}
	}
	if n := len(plain.Messages()); n != 0 {
		t.Fatalf("%d messages recorded", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Send(ctx, mail.Message{To: []string{"x@example.com"}, Subject: "s", Text: "t"}); err == nil {
		t.Fatal("sent with a cancelled context")
	}
}
