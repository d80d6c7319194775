// Package smtptest runs a real SMTP server on loopback for tests: a sink that speaks
// EHLO/HELO, STARTTLS and AUTH PLAIN (both optional), MAIL, RCPT, DATA (with
// dot-unstuffing), RSET, NOOP and QUIT, and records every message it accepts.
package smtptest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one message the server accepted.
type Message struct {
	From     string         // MAIL FROM address
	To       []string       // RCPT TO addresses, in order
	Data     string         // the DATA section after dot-unstuffing, lines ending in "\n"
	Header   netmail.Header // parsed headers of Data (nil if they did not parse)
	Subject  string         // decoded Subject header
	Body     string         // the body, quoted-printable decoded when so encoded
	AuthUser string         // the user that authenticated, "" if none
	TLS      bool           // whether the session was under TLS (STARTTLS or implicit)
}

// Option configures a Server.
type Option func(*Server)

// WithAuth makes the server offer AUTH PLAIN and require it, with these credentials,
// before MAIL.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithSTARTTLS makes the server offer STARTTLS with a self-signed certificate for
// 127.0.0.1; ClientTLSConfig trusts it.
func WithSTARTTLS() Option {
	return func(s *Server) { s.starttls = true }
}

// WithImplicitTLS makes the server speak TLS from the first byte (smtps://), with the
// same self-signed certificate as WithSTARTTLS.
func WithImplicitTLS() Option {
	return func(s *Server) { s.implicit = true }
}

// Server is a running SMTP sink.
type Server struct {
	user, pass string
	starttls   bool
	implicit   bool
	tlsConf    *tls.Config
	roots      *x509.CertPool

	ln      net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	msgs    []Message
	changed chan struct{} // closed and replaced when a message arrives
	conns   map[net.Conn]struct{}
	closed  bool
}

// Start listens on 127.0.0.1:0 and serves until Close.
func Start(opts ...Option) (*Server, error) {
	s := &Server{changed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	for _, o := range opts {
		o(s)
	}
	if s.starttls || s.implicit {
		if err := s.makeCert(); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if s.implicit {
		ln = tls.NewListener(ln, s.tlsConf)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// New starts a server and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is an smtp:// URL for the server, with the credentials when WithAuth was given.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr()}
	if s.implicit {
		u.Scheme = "smtps"
	}
	if s.user != "" {
		u.User = url.UserPassword(s.user, s.pass)
	}
	return u.String()
}

// ClientTLSConfig trusts the server's certificate (for WithSTARTTLS).
func (s *Server) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.roots, ServerName: "127.0.0.1"}
}

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns the first accepted message that match accepts (any message when match is
// nil), waiting for one to arrive until ctx ends.
func (s *Server) Wait(ctx context.Context, match func(Message) bool) (Message, error) {
	for {
		s.mu.Lock()
		for _, m := range s.msgs {
			if match == nil || match(m) {
				s.mu.Unlock()
				return m, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// WaitTo waits up to timeout for a message to the given address, failing the test if
// none arrives.
func (s *Server) WaitTo(t testing.TB, addr string, timeout time.Duration) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m, err := s.Wait(ctx, func(m Message) bool {
		for _, r := range m.To {
			if strings.EqualFold(r, addr) {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("smtptest: no message to %s within %s (got %d messages)", addr, timeout, len(s.Messages()))
	}
	return m
}

// Close stops the server and ends open sessions.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) record(m Message) {
	parse(&m)
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// session is one connection's state.
type session struct {
	conn     net.Conn
	r        *textproto.Reader
	w        *bufio.Writer
	greeted  bool
	tls      bool
	authUser string
	from     string
	hasFrom  bool
	to       []string
}

func (ss *session) reply(lines ...string) error {
	for _, l := range lines {
		if _, err := ss.w.WriteString(l + "\r\n"); err != nil {
			return err
		}
	}
	return ss.w.Flush()
}

func (ss *session) reset() { ss.from, ss.hasFrom, ss.to = "", false, nil }

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	ss := &session{conn: c, tls: s.implicit}
	ss.bind(c)
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if ss.reply("220 smtptest ESMTP ready") != nil {
		return
	}
	for {
		line, err := ss.r.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		var werr error
		switch verb {
		case "EHLO":
			ss.greeted = true
			ss.reset()
			lines := []string{"250-smtptest greets " + arg, "250-8BITMIME", "250-PIPELINING"}
			if s.starttls && !ss.tls {
				lines = append(lines, "250-STARTTLS")
			}
			if s.user != "" {
				lines = append(lines, "250-AUTH PLAIN")
			}
			lines = append(lines, "250 SMTPUTF8")
			werr = ss.reply(lines...)
		case "HELO":
			ss.greeted = true
			ss.reset()
			werr = ss.reply("250 smtptest")
		case "STARTTLS":
			if !s.starttls || ss.tls {
				werr = ss.reply("502 5.5.1 STARTTLS not offered")
				break
			}
			if err := ss.reply("220 2.0.0 ready to start TLS"); err != nil {
				return
			}
			tc := tls.Server(c, s.tlsConf)
			if err := tc.Handshake(); err != nil {
				return
			}
			ss.bind(tc)
			ss.tls, ss.greeted, ss.authUser = true, false, ""
			ss.reset()
		case "AUTH":
			werr = s.auth(ss, arg)
		case "MAIL":
			switch {
			case !ss.greeted:
				werr = ss.reply("503 5.5.1 say EHLO first")
			case s.user != "" && ss.authUser == "":
				werr = ss.reply("530 5.7.0 authentication required")
			case ss.hasFrom:
				werr = ss.reply("503 5.5.1 MAIL already given")
			default:
				addr, ok := pathArg(arg, "FROM:")
				if !ok {
					werr = ss.reply("501 5.5.4 syntax: MAIL FROM:<address>")
					break
				}
				ss.from, ss.hasFrom = addr, true
				werr = ss.reply("250 2.1.0 OK")
			}
		case "RCPT":
			if !ss.hasFrom {
				werr = ss.reply("503 5.5.1 need MAIL first")
				break
			}
			addr, ok := pathArg(arg, "TO:")
			if !ok || addr == "" {
				werr = ss.reply("501 5.5.4 syntax: RCPT TO:<address>")
				break
			}
			ss.to = append(ss.to, addr)
			werr = ss.reply("250 2.1.5 OK")
		case "DATA":
			if len(ss.to) == 0 {
				werr = ss.reply("503 5.5.1 need RCPT first")
				break
			}
			if err := ss.reply("354 end data with <CR><LF>.<CR><LF>"); err != nil {
				return
			}
			data, err := io.ReadAll(ss.r.DotReader())
			if err != nil {
				return
			}
			s.record(Message{From: ss.from, To: ss.to, Data: string(data), AuthUser: ss.authUser, TLS: ss.tls})
			ss.reset()
			werr = ss.reply("250 2.0.0 OK queued")
		case "RSET":
			ss.reset()
			werr = ss.reply("250 2.0.0 OK")
		case "NOOP":
			werr = ss.reply("250 2.0.0 OK")
		case "QUIT":
			_ = ss.reply("221 2.0.0 bye")
			return
		default:
			werr = ss.reply("502 5.5.2 command not recognized")
		}
		if werr != nil {
			return
		}
	}
}

func (ss *session) bind(c net.Conn) {
	ss.conn = c
	ss.r = textproto.NewReader(bufio.NewReader(c))
	ss.w = bufio.NewWriter(c)
}

func (s *Server) auth(ss *session, arg string) error {
	mech, initial, _ := strings.Cut(arg, " ")
	if s.user == "" {
		return ss.reply("503 5.5.1 AUTH not offered")
	}
	if !strings.EqualFold(mech, "PLAIN") {
		return ss.reply("504 5.5.4 only PLAIN is supported")
	}
	if ss.authUser != "" {
		return ss.reply("503 5.5.1 already authenticated")
	}
	if initial == "" {
		if err := ss.reply("334 "); err != nil {
			return err
		}
		l, err := ss.r.ReadLine()
		if err != nil {
			return err
		}
		initial = l
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(initial))
	if err != nil {
		return ss.reply("501 5.5.2 bad base64")
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || parts[1] != s.user || parts[2] != s.pass {
		return ss.reply("535 5.7.8 authentication credentials invalid")
	}
	ss.authUser = parts[1]
	return ss.reply("235 2.7.0 authentication successful")
}

// pathArg parses "FROM:<addr> [params]" (case-insensitive prefix).
func pathArg(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", false
	}
	return rest[1:end], true
}

// parse fills Header, Subject and Body from Data.
func parse(m *Message) {
	msg, err := netmail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		m.Body = m.Data
		return
	}
	m.Header = msg.Header
	if subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	} else {
		m.Subject = msg.Header.Get("Subject")
	}
	body := msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, _ := io.ReadAll(body)
	m.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
}

func (s *Server) makeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	s.roots = x509.NewCertPool()
	s.roots.AddCert(cert)
	s.tlsConf = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	return nil
}
