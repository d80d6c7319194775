package smtptest

import (
	"context"
	"crypto/tls"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

func TestSendMailRecordsMessageWithDotUnstuffing(t *testing.T) {
	s := New(t)
	body := "Subject: hello\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"
	if err := smtp.SendMail(s.Addr(), nil, "from@example.com", []string{"a@example.com", "b@example.com"}, []byte(body)); err != nil {
		t.Fatal(err)
	}
	m := s.WaitTo(t, "b@example.com", 2*time.Second)
	if m.From != "from@example.com" || len(m.To) != 2 || m.To[0] != "a@example.com" {
		t.Fatalf("envelope = %q %q", m.From, m.To)
	}
	if m.Subject != "hello" {
		t.Fatalf("subject = %q", m.Subject)
	}
	want := "line one\n.leading dot\n..two dots\n.\nend\n"
	if m.Body != want {
		t.Fatalf("body = %q, want %q", m.Body, want)
	}
	if m.TLS || m.AuthUser != "" {
		t.Fatalf("tls=%v auth=%q on a plain session", m.TLS, m.AuthUser)
	}
}

func TestAuthPlainRequiredAndChecked(t *testing.T) {
	s := New(t, WithAuth("u", "secret"))
	msg := []byte("Subject: x\r\n\r\nbody\r\n")
	err := smtp.SendMail(s.Addr(), nil, "f@example.com", []string{"t@example.com"}, msg)
	if err == nil || !strings.Contains(err.Error(), "530") {
		t.Fatalf("no auth: err = %v, want 530", err)
	}
	err = smtp.SendMail(s.Addr(), smtp.PlainAuth("", "u", "wrong", "127.0.0.1"), "f@example.com", []string{"t@example.com"}, msg)
	if err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("bad password: err = %v, want 535", err)
	}
	if err := smtp.SendMail(s.Addr(), smtp.PlainAuth("", "u", "secret", "127.0.0.1"), "f@example.com", []string{"t@example.com"}, msg); err != nil {
		t.Fatal(err)
	}
	if got := s.Messages(); len(got) != 1 || got[0].AuthUser != "u" {
		t.Fatalf("messages = %+v", got)
	}
}

func TestSTARTTLS(t *testing.T) {
	s := New(t, WithSTARTTLS())
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	if err := c.StartTLS(s.ClientTLSConfig()); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Fatal("STARTTLS offered again inside TLS")
	}
	send(t, c, "f@example.com", "t@example.com", "Subject: tls\r\n\r\nsecret\r\n")
	if m := s.WaitTo(t, "t@example.com", 2*time.Second); !m.TLS || m.Subject != "tls" {
		t.Fatalf("message = %+v", m)
	}
}

func TestImplicitTLS(t *testing.T) {
	s := New(t, WithImplicitTLS())
	conn, err := tls.Dial("tcp", s.Addr(), s.ClientTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send(t, c, "f@example.com", "t@example.com", "Subject: smtps\r\n\r\nx\r\n")
	if m := s.WaitTo(t, "t@example.com", 2*time.Second); !m.TLS {
		t.Fatal("implicit TLS session not marked TLS")
	}
	if !strings.HasPrefix(s.URL(), "smtps://") {
		t.Fatalf("URL = %s", s.URL())
	}
}

func send(t *testing.T, c *smtp.Client, from, to, data string) {
	t.Helper()
	if err := c.Mail(from); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(to); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// TestCommandSequence drives the protocol by hand: sequencing errors, RSET, NOOP, HELO.
func TestCommandSequence(t *testing.T) {
	s := New(t)
	tc, err := textproto.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	expect := func(code int) {
		t.Helper()
		if _, _, err := tc.ReadResponse(code); err != nil {
			t.Fatalf("want %d: %v", code, err)
		}
	}
	cmd := func(code int, format string, args ...any) {
		t.Helper()
		if _, err := tc.Cmd(format, args...); err != nil {
			t.Fatal(err)
		}
		expect(code)
	}
	expect(220)
	cmd(503, "MAIL FROM:<a@example.com>") // no HELO yet
	cmd(250, "HELO client")
	cmd(503, "RCPT TO:<b@example.com>") // no MAIL yet
	cmd(501, "MAIL FROM:a@example.com")
	cmd(250, "MAIL FROM:<a@example.com> SIZE=10")
	cmd(503, "DATA") // no RCPT yet
	cmd(250, "RCPT TO:<b@example.com>")
	cmd(250, "RSET")
	cmd(503, "DATA") // RSET dropped the transaction
	cmd(250, "NOOP")
	cmd(502, "VRFY x")
	cmd(503, "AUTH PLAIN AGZvbwBiYXI=") // AUTH not offered without WithAuth
	cmd(250, "MAIL FROM:<a@example.com>")
	cmd(250, "RCPT TO:<c@example.com>")
	cmd(354, "DATA")
	cmd(250, "Subject: by hand\r\n\r\n..dot\r\n.")
	cmd(221, "QUIT")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := s.Wait(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Body != ".dot\n" || m.To[0] != "c@example.com" {
		t.Fatalf("message = %+v", m)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	s := New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Wait(ctx, nil); err == nil {
		t.Fatal("Wait returned without a message")
	}
}
