// Package mail sends plain-text email. Spectra sends few messages (invitations, alerts),
// so a Sender opens one SMTP connection per message through the standard library's
// net/smtp: STARTTLS when the server offers it (or implicit TLS for smtps://), and
// AUTH PLAIN when the URL carries a user.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Message is one plain-text email.
type Message struct {
	To      []string
	Subject string
	Text    string
}

// Sender sends a message. Implementations return an error when the message was not
// accepted for delivery.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// DefaultFrom is the sender address used when the URL names none and its user is not an
// email address.
const DefaultFrom = "Spectra <spectra@localhost>"

// SMTP sends through one SMTP server. Build it with New; the zero value is not usable.
type SMTP struct {
	addr        string // host:port
	host        string
	implicitTLS bool
	user, pass  string
	from        *netmail.Address
	helo        string

	// TLSConfig, when set, is used for STARTTLS and implicit TLS (tests set RootCAs
	// here). When nil, the system roots verify the server named in the URL.
	TLSConfig *tls.Config
	// Timeout bounds one send when the context has no earlier deadline (30 s by default).
	Timeout time.Duration
}

// New parses an SMTP URL: smtp://[user:pass@]host[:port][?from=Name%20<addr>] (port 587
// by default; STARTTLS when offered) or smtps://… (implicit TLS, port 465 by default).
// The from parameter defaults to the user when it is an email address, otherwise to
// DefaultFrom. An optional helo parameter names this host in EHLO (default "localhost").
func New(rawURL string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("mail: the SMTP URL does not parse as a URL") // url's error would echo the password
	}
	s := &SMTP{Timeout: 30 * time.Second, helo: "localhost"}
	port := ""
	switch u.Scheme {
	case "smtp":
		port = "587"
	case "smtps":
		port = "465"
		s.implicitTLS = true
	default:
		return nil, fmt.Errorf("mail: SMTP URL scheme must be smtp or smtps, not %q", u.Scheme)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, errors.New("mail: SMTP URL has no host")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	q := u.Query()
	for k := range q {
		if k != "from" && k != "helo" {
			return nil, fmt.Errorf("mail: unknown SMTP URL parameter %q", k)
		}
	}
	if h := q.Get("helo"); h != "" {
		s.helo = h
	}
	from := q.Get("from")
	if from == "" {
		if a, err := netmail.ParseAddress(s.user); err == nil && s.user != "" {
			from = a.Address
		} else {
			from = DefaultFrom
		}
	}
	s.from, err = netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: bad from address %q: %v", from, err)
	}
	return s, nil
}

// From is the sender address of every message.
func (s *SMTP) From() string { return s.from.String() }

// Addr is the server's host:port.
func (s *SMTP) Addr() string { return s.addr }

// Send delivers m in one SMTP session.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if len(m.To) == 0 {
		return errors.New("mail: message has no recipient")
	}
	to := make([]string, len(m.To))
	for i, r := range m.To {
		a, err := netmail.ParseAddress(r)
		if err != nil {
			return fmt.Errorf("mail: bad recipient %q: %v", r, err)
		}
		to[i] = a.Address
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return errors.New("mail: subject contains a line break")
	}
	body, err := s.compose(m, to)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok && s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("mail: connect %s: %w", s.addr, err)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if s.implicitTLS {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("mail: TLS with %s: %w", s.addr, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: %s: %w", s.addr, err)
	}
	defer c.Close()
	if err := s.session(c, to, body); err != nil {
		return fmt.Errorf("mail: %s: %w", s.addr, err)
	}
	return nil
}

func (s *SMTP) session(c *smtp.Client, to []string, body []byte) error {
	if err := c.Hello(s.helo); err != nil {
		return err
	}
	if !s.implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return err
			}
		}
	}
	if s.user != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("server does not offer AUTH but the SMTP URL has a user")
		}
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return err
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.TLSConfig != nil {
		c := s.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.host
		}
		return c
	}
	return &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
}

// compose writes the headers and a quoted-printable UTF-8 body, lines ending in CRLF.
func (s *SMTP) compose(m Message, to []string) ([]byte, error) {
	var b bytes.Buffer
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := "localhost"
	if i := strings.LastIndexByte(s.from.Address, '@'); i >= 0 {
		domain = s.from.Address[i+1:]
	}
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", s.from.String())
	hdr("To", strings.Join(to, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", time.Now().UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := strings.ReplaceAll(m.Text, "\r\n", "\n")
	if _, err := qp.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
