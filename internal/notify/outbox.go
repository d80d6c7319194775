package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"spectra/internal/ids"
)

// Work is one pass of the outbox, which cmd runs in the background every DefaultPoll
// and at once on a nudge (see Nudged): prune old deliveries (at most once per
// pruneInterval), dispatch alerts into deliveries, send the due deliveries. A step's
// failure does not skip the next steps; the failures are returned together.
func (s *Service) Work(ctx context.Context) error {
	var errPrune, errDispatch, errSend error
	if now := s.now(); s.pruneDue(now) {
		if _, errPrune = s.Prune(ctx); errPrune != nil {
			errPrune = fmt.Errorf("notify: prune deliveries: %w", errPrune)
		}
	}
	if _, errDispatch = s.Dispatch(ctx); errDispatch != nil {
		errDispatch = fmt.Errorf("notify: dispatch alerts: %w", errDispatch)
	}
	if _, errSend = s.SendDue(ctx); errSend != nil {
		errSend = fmt.Errorf("notify: send deliveries: %w", errSend)
	}
	return errors.Join(errPrune, errDispatch, errSend)
}

// pruneDue reports whether a prune is due at now, and if so counts it as done.
func (s *Service) pruneDue(now time.Time) bool {
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	if now.Sub(s.pruned) < pruneInterval {
		return false
	}
	s.pruned = now
	return true
}

// Nudged receives when Nudge was called: the background loop runs Work at once.
func (s *Service) Nudged() <-chan struct{} { return s.nudge }

// Prune deletes finished deliveries older than Retention (pending ones are kept,
// whatever their age) and reports how many.
func (s *Service) Prune(ctx context.Context) (int, error) {
	return s.store.PruneDeliveries(ctx, s.now().Add(-Retention))
}

// Dispatch queues the deliveries of every undispatched alert and returns how many
// alerts this call claimed. Each alert is claimed by exactly one dispatcher, however
// many run at once on however many nodes.
func (s *Service) Dispatch(ctx context.Context) (int, error) {
	n := 0
	for {
		pending, err := s.store.UndispatchedAlerts(ctx, batch)
		if err != nil || len(pending) == 0 {
			return n, err
		}
		// An alert another dispatcher claimed meanwhile is not listed again, so this
		// ends when the outbox is empty.
		for _, id := range pending {
			ok, err := s.store.DispatchAlert(ctx, id, s.now().UTC(), RecipientRoles, s.plan)
			if err != nil {
				return n, fmt.Errorf("alert %s: %w", id, err)
			}
			if ok {
				n++
			}
		}
	}
}

// plan is the deliveries of alert a: one per enabled endpoint that wants its type, and
// one email per recipient when a mailer is configured.
func (s *Service) plan(a Alert, endpoints []Endpoint, emails []string) []Delivery {
	now := s.now().UTC()
	base := Delivery{AlertID: a.ID, MessageID: a.ID, EventType: a.Kind, WorkspaceID: a.WorkspaceID,
		Status: StatusPending, NextAttemptAt: &now, CreatedAt: now}
	var out []Delivery
	body, err := MessageBody(a.Kind, a.CreatedAt, a.Payload)
	if err != nil {
		s.log.Error("notify: alert payload is not JSON; its webhooks are skipped", "alert", a.ID, "err", err)
	}
	for _, e := range endpoints {
		if err != nil || !e.Enabled || !e.Wants(a.Kind) {
			continue
		}
		d := base
		d.ID, d.Channel, d.EndpointID, d.Body = ids.New("dlv"), ChannelWebhook, e.ID, string(body)
		out = append(out, d)
	}
	if s.mailer != nil {
		for _, addr := range emails {
			d := base
			d.ID, d.Channel, d.Address, d.Subject, d.Body = ids.New("dlv"), ChannelEmail, addr, a.Subject, a.Body
			out = append(out, d)
		}
	}
	return out
}

// SendDue claims the deliveries due now, sends them (concurrently, each with its
// timeout) and records how each went, until nothing is due. It returns how many
// attempts it made.
func (s *Service) SendDue(ctx context.Context) (int, error) {
	total := 0
	for round := 0; round < maxRounds; round++ {
		now := s.now().UTC()
		claimed, err := s.store.ClaimDeliveries(ctx, now, now.Add(s.lease), batch)
		if err != nil || len(claimed) == 0 {
			return total, err
		}
		var wg sync.WaitGroup
		errc := make(chan error, len(claimed))
		for _, d := range claimed {
			wg.Go(func() {
				if _, err := s.store.CompleteDelivery(ctx, s.attempt(ctx, d)); err != nil {
					errc <- err
				}
			})
		}
		wg.Wait()
		close(errc)
		total += len(claimed)
		if err := <-errc; err != nil {
			return total, err
		}
	}
	return total, nil
}

// attempt sends one claimed delivery and returns its outcome.
func (s *Service) attempt(ctx context.Context, d Delivery) Outcome {
	o := Outcome{ID: d.ID, Attempts: d.Attempts, LeaseUntil: d.LeaseUntil}
	var err error
	switch {
	case d.Channel == ChannelEmail && s.mailer == nil:
		o.Status, o.Error = StatusFailed, "no mail server is configured"
	case d.Channel == ChannelEmail:
		err = s.mailer.Send(ctx, Message{To: []string{d.Address}, Subject: d.Subject, Text: d.Body})
	case !d.EndpointEnabled && d.EventType != EventTest: // a test may check an endpoint before it is enabled
		o.Status, o.Error = StatusFailed, "the endpoint is disabled"
	default:
		o.HTTPStatus, err = s.post(ctx, d)
	}
	o.At = s.now().UTC()
	switch {
	case o.Status != "":
	case err == nil:
		o.Status = StatusDelivered
	case d.Attempts >= s.maxAttempts:
		o.Status, o.Error = StatusFailed, err.Error()
	default:
		o.Status, o.Error, o.NextAttempt = StatusPending, err.Error(), o.At.Add(max(s.backoff(d.Attempts), time.Second))
	}
	if o.Status != StatusDelivered {
		s.log.Warn("notify: delivery attempt failed", "delivery", d.ID, "channel", d.Channel, "attempt", d.Attempts,
			"status", o.Status, "http_status", o.HTTPStatus, "err", o.Error)
	}
	return o
}

// post sends a webhook attempt, signed at the attempt's time; a 2xx answer is success.
func (s *Service) post(ctx context.Context, d Delivery) (int, error) {
	body := []byte(d.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Spectra-Webhooks/1")
	if err := SetHeaders(req.Header, d.Secret, d.MessageID, s.now(), body); err != nil {
		return 0, err
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(res.Body, 200))
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return res.StatusCode, nil
	}
	msg := fmt.Sprintf("HTTP %d", res.StatusCode)
	if t := strings.TrimSpace(strings.ToValidUTF8(string(snippet), "")); t != "" {
		msg += ": " + t
	}
	return res.StatusCode, fmt.Errorf("%s", msg)
}
