package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"spectra/internal/api"
	"spectra/internal/billing"
	"spectra/internal/errs"
)

// statusOf maps an error's kind to its HTTP status, as the JSON API does.
func statusOf(err error) int { return api.Status(errs.KindOf(err)) }

// userMessage is the message of a domain error, safe to show; internal errors get a
// generic one (their detail goes to the log only).
func userMessage(err error) string {
	var e *errs.Error
	if errors.As(err, &e) && e.Kind != errs.Internal {
		return sentence(e.Message)
	}
	return "Something went wrong on our side. It has been logged; please try again."
}

// errorData is what the error page shows.
type errorData struct {
	pageBase
	Status  int
	Code    string
	Message string
}

// fail writes err as an error page (inside the workspace's layout when there is one).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *viewer, rq *request, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		s.log.Error("dashboard request failed", "method", r.Method, "path", LoggedPath(r), "err", err)
	}
	title := http.StatusText(status)
	var base pageBase
	if rq != nil {
		base = rq.base(title, "")
	} else {
		base = s.base(title, v, nil)
	}
	d := errorData{pageBase: base, Status: status, Code: errs.CodeOf(err), Message: userMessage(err)}
	if status == http.StatusTooManyRequests {
		retryAfter(w, s.rateLimitWait(err))
	}
	if rerr := s.render(w, r, status, "error", d); rerr != nil {
		s.log.Error("render error page", "err", rerr)
		http.Error(w, d.Message, status)
	}
}

// rateLimitWait is how long a client refused with err (429) should wait: the billing
// redemption window for too many failed redemptions, the sign-in window otherwise.
func (s *Server) rateLimitWait(err error) time.Duration {
	if s.bill != nil && errors.Is(err, billing.ErrTooManyAttempts) {
		return s.bill.RedeemWindow()
	}
	return s.loginWait
}

// retryAfter sets a 429's Retry-After header to wait, in whole seconds (at least 1).
func retryAfter(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(max(1, int64((wait+time.Second-1)/time.Second)), 10))
}

// notFound answers any unknown dashboard URL.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	return errNotFound
}

// sentence starts a message with a capital letter.
func sentence(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
