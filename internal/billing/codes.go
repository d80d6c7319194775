package billing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/text"
)

// codeAlphabet is Crockford's base32: no I, L, O or U, so codes read back unambiguously.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// codeLength is the number of characters of a code: 16 × 5 = 80 random bits.
const codeLength = 16

// MaxCodesPerBatch bounds one CreateCodes call.
const MaxCodesPerBatch = 1000

// CodeBatchRequest asks for a batch of redemption codes.
type CodeBatchRequest struct {
	Amount    money.Amount `json:"amount"`
	Count     int          `json:"count"`
	ExpiresAt time.Time    `json:"expires_at"` // the codes' validity: redeemable until then
	Note      string       `json:"note"`
	// Kind is the credit's kind ("" is paid); CreditExpiresAt its expiry (zero: never,
	// or the paid-credit default), after ExpiresAt.
	Kind            ledger.CreditKind `json:"kind"`
	CreditExpiresAt time.Time         `json:"credit_expires_at"`
}

// CodeBatch is a created batch. Codes holds the codes' text: shown this once, never stored.
type CodeBatch struct {
	BatchID         string            `json:"batch_id"`
	Amount          money.Amount      `json:"amount"`
	Currency        string            `json:"currency"`
	ExpiresAt       time.Time         `json:"expires_at"`
	Kind            ledger.CreditKind `json:"kind"`
	CreditExpiresAt *time.Time        `json:"credit_expires_at"`
	Note            string            `json:"note,omitempty"`
	Codes           []string          `json:"codes"`
}

// CreateCodes makes a batch of redemption codes worth r.Amount each, valid until
// r.ExpiresAt, giving credit of r.Kind that expires at r.CreditExpiresAt. Only their
// hashes are stored. Errors: invalid_amount, invalid_count, invalid_expiry, invalid_note,
// invalid_credit_kind, invalid_expires_at (the credit's expiry is not after the codes').
func (s *Service) CreateCodes(ctx context.Context, r CodeBatchRequest) (CodeBatch, error) {
	now := s.issuedNow()
	r.Note = strings.TrimSpace(r.Note)
	switch {
	case r.Amount <= 0:
		return CodeBatch{}, errs.E(errs.Invalid, "invalid_amount", "amount must be greater than zero")
	case r.Count < 1 || r.Count > MaxCodesPerBatch:
		return CodeBatch{}, errs.E(errs.Invalid, "invalid_count", "count must be from 1 to %d", MaxCodesPerBatch)
	case !r.ExpiresAt.After(now):
		return CodeBatch{}, errs.E(errs.Invalid, "invalid_expiry", "expires_at must be in the future")
	case len(r.Note) > 500 || !utf8.ValidString(r.Note):
		return CodeBatch{}, errs.E(errs.Invalid, "invalid_note", "note is at most 500 bytes")
	case r.Kind != "" && !r.Kind.Valid():
		return CodeBatch{}, errs.E(errs.Invalid, "invalid_credit_kind", "kind must be %q or %q", ledger.CreditPaid, ledger.CreditPromotional)
	case !r.CreditExpiresAt.IsZero() && !r.CreditExpiresAt.After(r.ExpiresAt):
		return CodeBatch{}, errs.E(errs.Invalid, "invalid_expires_at", "credit_expires_at must be after the codes' expires_at")
	}
	if r.Kind == "" {
		r.Kind = ledger.CreditPaid
	}
	var creditExp *time.Time
	if !r.CreditExpiresAt.IsZero() {
		t := r.CreditExpiresAt.UTC().Truncate(time.Microsecond)
		creditExp = &t
	}
	if err := text.Free("note", r.Note, 500); err != nil {
		return CodeBatch{}, err
	}
	b := CodeBatch{BatchID: ids.New("batch"), Amount: r.Amount, Currency: s.cfg.Currency,
		ExpiresAt: r.ExpiresAt.UTC().Truncate(time.Microsecond), Note: r.Note, Kind: r.Kind, CreditExpiresAt: creditExp}
	codes := make([]Code, r.Count)
	for i := range codes {
		text := newCode()
		b.Codes = append(b.Codes, text)
		canon := canonicalCode(text)
		codes[i] = Code{ID: ids.New("code"), BatchID: b.BatchID, Hash: hashCode(canon), Hint: canon[len(canon)-4:],
			Amount: r.Amount, ExpiresAt: b.ExpiresAt, CreditKind: r.Kind, CreditExpiresAt: creditExp, Note: r.Note, CreatedAt: now}
	}
	if err := s.store.CreateCodes(ctx, codes); err != nil {
		return CodeBatch{}, err
	}
	s.log.Info("billing: redemption codes created", "batch_id", b.BatchID, "count", r.Count, "amount", r.Amount.String(), "expires_at", b.ExpiresAt)
	return b, nil
}

// newCode returns a random code, grouped for reading: "K7QX-M2PA-9RTD-HW4N".
func newCode() string {
	raw := make([]byte, codeLength)
	if _, err := rand.Read(raw); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	var b strings.Builder
	for i, v := range raw {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(codeAlphabet[v&31])
	}
	return b.String()
}

// canonicalCode reads a code as typed: case, spaces and dashes ignored, and the letters
// people confuse with digits taken as those digits. "" when it cannot be a code.
func canonicalCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if !strings.ContainsRune(codeAlphabet, r) {
			return ""
		}
		b.WriteRune(r)
	}
	if b.Len() != codeLength {
		return ""
	}
	return b.String()
}

// hashCode is the stored form of a canonical code: 80 random bits make a plain SHA-256
// safe (no dictionary to try).
func hashCode(canon string) string {
	sum := sha256.Sum256([]byte("spectra-code:" + canon))
	return hex.EncodeToString(sum[:])
}

// RedeemWindow is how long a failed redemption counts towards the limit: a client
// refused with ErrTooManyAttempts may try again after at most this long.
func (s *Service) RedeemWindow() time.Duration { return s.cfg.RedeemWindow }

// Redeem credits a redemption code to a workspace. A code credits once, ever: the
// redemption is one guarded update and the credit, in one transaction, so concurrent
// attempts credit once. Failed attempts are counted per workspace and per client IP;
// past the limit every attempt is refused with ErrTooManyAttempts until the window
// passes. Errors: ErrTooManyAttempts, ErrCodeNotFound (also for text that cannot be a
// code), ErrCodeExpired, ErrCodeRedeemed, ErrCodeDisabled, workspace_not_found.
func (s *Service) Redeem(ctx context.Context, workspaceID, code, clientIP string) (Payment, error) {
	if err := text.Line("code", code, 0); err != nil {
		return Payment{}, err // no code is such text: refused before any lookup, and no failed attempt
	}
	ws, err := s.teams.Workspace(ctx, workspaceID)
	if err != nil {
		return Payment{}, err
	}
	now := s.issuedNow()
	scopes := []string{"ws:" + ws.ID}
	if ip := normalizeIP(clientIP); ip != "" {
		scopes = append(scopes, "ip:"+ip)
	}
	for _, sc := range scopes {
		n, err := s.store.RedeemFailures(ctx, sc, now.Add(-s.cfg.RedeemWindow))
		if err != nil {
			return Payment{}, err
		}
		if n >= s.cfg.RedeemFailureLimit {
			s.log.Warn("billing: redemption refused: too many failed attempts", "workspace_id", ws.ID, "scope", sc, "failures", n)
			return Payment{}, ErrTooManyAttempts
		}
	}
	p, err := s.redeem(ctx, ws.ID, code, now)
	if err != nil {
		if k := errs.KindOf(err); k == errs.NotFound || k == errs.Invalid || k == errs.Conflict {
			if ferr := s.store.AddRedeemFailure(ctx, scopes, now); ferr != nil {
				s.log.Error("billing: record a failed redemption", "err", ferr)
			}
			s.log.Info("billing: redemption failed", "workspace_id", ws.ID, "client_ip", clientIP, "code", errs.CodeOf(err))
		}
		return Payment{}, err
	}
	s.log.Info("billing: code redeemed", "workspace_id", ws.ID, "amount", p.Amount.String(), "receipt", p.ReceiptNumber)
	s.afterCredit(ctx, ws.ID)
	return p, nil
}

func (s *Service) redeem(ctx context.Context, workspaceID, text string, now time.Time) (Payment, error) {
	canon := canonicalCode(text)
	if canon == "" {
		return Payment{}, ErrCodeNotFound
	}
	c, err := s.store.CodeByHash(ctx, hashCode(canon))
	if err != nil {
		return Payment{}, err
	}
	switch {
	case c.DisabledAt != nil:
		return Payment{}, ErrCodeDisabled
	case c.RedeemedAt != nil:
		return Payment{}, ErrCodeRedeemed
	case !c.ExpiresAt.After(now):
		return Payment{}, ErrCodeExpired
	}
	ws, err := s.teams.Workspace(ctx, workspaceID)
	if err != nil {
		return Payment{}, err
	}
	ref := "code …" + c.Hint
	receipt, err := s.newReceipt(ctx, ws, c.Amount, MethodCode, ref)
	if err != nil {
		return Payment{}, err
	}
	tr := transferFor(ws.ID, c.Amount, "code:"+c.ID, "Redemption code …"+c.Hint)
	tr.CreditKind = c.CreditKind
	if c.CreditExpiresAt != nil {
		tr.ExpiresAt = *c.CreditExpiresAt
	}
	return s.store.RedeemCode(ctx, c.ID, now, PaymentRecord{Transfer: tr, Method: MethodCode, Receipt: creditReceipt(receipt, tr)})
}

// normalizeIP returns the IP of a client address ("host:port" or a bare IP), or "".
func normalizeIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	ip := net.ParseIP(strings.TrimSpace(addr))
	if ip == nil {
		return ""
	}
	return ip.String()
}
