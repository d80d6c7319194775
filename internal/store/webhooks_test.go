package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"spectra/internal/ids"
	"spectra/internal/notify"
	"spectra/internal/store"
	"spectra/internal/team"
)

// hookEnv is a store with one workspace, its members, and notifiers on a test clock.
type hookEnv struct {
	*coreEnv
	ws     string
	mailer *recordingMailer
}

// recordingMailer records every email; fail makes the next n sends fail.
type recordingMailer struct {
	mu   sync.Mutex
	sent []notify.Message
	fail int
}

func (m *recordingMailer) Send(_ context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail > 0 {
		m.fail--
		return errors.New("421 try again later")
	}
	m.sent = append(m.sent, msg)
	return nil
}

func (m *recordingMailer) Sent() []notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.sent)
}

// fixedBackoff is the schedule without jitter, so tests know each next attempt.
func fixedBackoff(n int) time.Duration { return notify.Schedule[min(n, len(notify.Schedule))-1] }

func hookEach(t *testing.T, fn func(t *testing.T, e *hookEnv)) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		h := &hookEnv{coreEnv: e, ws: e.Workspace(t, 0), mailer: &recordingMailer{}}
		for i, role := range team.Roles {
			u := team.User{ID: fmt.Sprintf("usr_%d", i), Email: fmt.Sprintf("%s@example.com", role), Name: string(role), CreatedAt: coreT0}
			acctCheck(t, e.DB.CreateUser(ctx, u, ""))
			_, err := e.DB.AddMember(ctx, team.Member{WorkspaceID: h.ws, UserID: u.ID, Role: role, CreatedAt: coreT0})
			acctCheck(t, err)
		}
		fn(t, h)
	})
}

// notifier is a notify.Service over the env's store and clock.
func (e *hookEnv) notifier(mail bool) *notify.Service {
	cfg := notify.Config{Store: e.DB, Now: e.Clock.Now, Backoff: fixedBackoff, Log: slog.New(slog.DiscardHandler), AllowPrivateNetworks: true}
	if mail {
		cfg.Mailer = e.mailer
	}
	return notify.New(cfg)
}

// alert writes an alert row the way the budget package does.
func (e *hookEnv) alert(t *testing.T, kind string) string {
	t.Helper()
	id := ids.New("alt")
	_, err := e.DB.RawExec(context.Background(), `INSERT INTO alerts (id, workspace_id, kind, budget_id, threshold, period_start, dedupe_key, subject, body, payload, created_at) VALUES (?, ?, ?, NULL, 80, ?, ?, ?, ?, ?, ?)`,
		id, e.ws, kind, coreT0.UnixMicro(), "test:"+id, "Budget at 80 %", "Your budget is at 80 %.", `{"alert_id":"`+id+`","threshold":80}`, e.Clock.Now().UnixMicro())
	acctCheck(t, err)
	return id
}

func (e *hookEnv) endpoint(t *testing.T, n *notify.Service, url string, in notify.EndpointInput) (notify.Endpoint, string) {
	t.Helper()
	in.URL = &url
	ep, secret, err := n.CreateEndpoint(context.Background(), e.ws, in)
	acctCheck(t, err)
	return ep, secret
}

func (e *hookEnv) deliveries(t *testing.T, endpointID string) []notify.Delivery {
	t.Helper()
	ds, err := e.DB.Deliveries(context.Background(), notify.DeliveryFilter{WorkspaceID: e.ws, EndpointID: endpointID, Limit: 1000})
	acctCheck(t, err)
	return ds
}

func ptr[T any](v T) *T { return &v }

func TestWebhookEndpointsStore(t *testing.T) {
	hookEach(t, func(t *testing.T, e *hookEnv) {
		ctx := context.Background()
		n := e.notifier(false)
		ep, secret := e.endpoint(t, n, "https://example.com/a", notify.EndpointInput{Description: ptr("ops"), EventTypes: ptr([]string{"balance.low"})})
		if !strings.HasPrefix(ep.ID, "whk_") || !strings.HasPrefix(secret, "whsec_") || !ep.Enabled {
			t.Fatalf("created %+v %q", ep, secret)
		}
		got, err := e.DB.Endpoint(ctx, e.ws, ep.ID)
		acctCheck(t, err)
		if got.URL != ep.URL || got.Description != "ops" || !slices.Equal(got.EventTypes, []string{"balance.low"}) || got.Secret != secret || !got.CreatedAt.Equal(ep.CreatedAt) {
			t.Fatalf("read back %+v", got)
		}
		up, err := n.UpdateEndpoint(ctx, e.ws, ep.ID, notify.EndpointInput{Enabled: ptr(false), EventTypes: ptr([]string{})})
		acctCheck(t, err)
		got, _ = e.DB.Endpoint(ctx, e.ws, ep.ID)
		if got.Enabled || len(got.EventTypes) != 0 || up.Enabled {
			t.Fatalf("after update %+v", got)
		}
		_, rotated, err := n.RotateSecret(ctx, e.ws, ep.ID)
		acctCheck(t, err)
		if got, _ = e.DB.Endpoint(ctx, e.ws, ep.ID); got.Secret != rotated || rotated == secret {
			t.Fatal("rotate did not store a new secret")
		}
		_, err = n.UpdateEndpoint(ctx, e.ws, ep.ID, notify.EndpointInput{URL: ptr("ftp://x")})
		acctWantCode(t, err, "invalid_url")
		_, err = n.UpdateEndpoint(ctx, e.ws, ep.ID, notify.EndpointInput{EventTypes: ptr([]string{"nope"})})
		acctWantCode(t, err, "invalid_event_type")
		_, err = e.DB.Endpoint(ctx, "ws_other", ep.ID)
		acctWantCode(t, err, "webhook_not_found")
		_, _, err = n.CreateEndpoint(ctx, "ws_missing", notify.EndpointInput{URL: ptr("https://example.com")})
		acctWantCode(t, err, "workspace_not_found")
		_, err = n.SendTest(ctx, e.ws, ep.ID)
		acctCheck(t, err)
		acctCheck(t, n.DeleteEndpoint(ctx, e.ws, ep.ID))
		acctWantCode(t, n.DeleteEndpoint(ctx, e.ws, ep.ID), "webhook_not_found")
		if all, _ := e.DB.Endpoints(ctx, e.ws); len(all) != 0 {
			t.Fatalf("endpoints after delete: %v", all)
		}
		if ds := e.deliveries(t, ""); len(ds) != 0 {
			t.Fatalf("deliveries of a deleted endpoint remain: %v", ds)
		}
	})
}

// Many dispatchers on two notifiers claim every alert exactly once, and queue one
// delivery per enabled, matching endpoint and one email per owner, admin and billing member.
func TestDispatchAlertsExactlyOnce(t *testing.T) {
	hookEach(t, func(t *testing.T, e *hookEnv) {
		ctx := context.Background()
		a, b := e.notifier(true), e.notifier(true)
		all, _ := e.endpoint(t, a, "https://example.com/all", notify.EndpointInput{})
		budget, _ := e.endpoint(t, a, "https://example.com/budget", notify.EndpointInput{EventTypes: ptr([]string{"budget.threshold"})})
		e.endpoint(t, a, "https://example.com/low", notify.EndpointInput{EventTypes: ptr([]string{"balance.low"})})
		e.endpoint(t, a, "https://example.com/off", notify.EndpointInput{Enabled: ptr(false)})
		var alerts []string
		for range 12 {
			alerts = append(alerts, e.alert(t, "budget.threshold"))
		}
		var mu sync.Mutex
		claimed := 0
		var wg sync.WaitGroup
		for i := range 8 {
			n := a
			if i%2 == 1 {
				n = b
			}
			wg.Go(func() {
				c, err := n.Dispatch(ctx)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				claimed += c
				mu.Unlock()
			})
		}
		wg.Wait()
		if claimed != len(alerts) {
			t.Fatalf("dispatchers claimed %d alerts, want %d", claimed, len(alerts))
		}
		ds := e.deliveries(t, "")
		per := map[string][]string{}
		for _, d := range ds {
			dest := d.EndpointID + d.Address
			per[d.AlertID] = append(per[d.AlertID], d.Channel+":"+dest)
			if d.MessageID != d.AlertID || d.Status != notify.StatusPending || d.Attempts != 0 {
				t.Fatalf("delivery %+v", d)
			}
		}
		want := []string{"email:admin@example.com", "email:billing@example.com", "email:owner@example.com", "webhook:" + all.ID, "webhook:" + budget.ID}
		slices.Sort(want)
		for _, id := range alerts {
			got := per[id]
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("alert %s deliveries %v, want %v", id, got, want)
			}
		}
		if again, _ := a.Dispatch(ctx); again != 0 {
			t.Fatalf("a second dispatch claimed %d", again)
		}
		// Without a mailer no email is queued.
		e.alert(t, "balance.low")
		if _, err := e.notifier(false).Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		if got := len(e.deliveries(t, "")) - len(ds); got != 2 { // the "all" and "low" endpoints
			t.Fatalf("balance.low without mailer queued %d deliveries, want 2", got)
		}
	})
}

// receiver is an httptest server that verifies every message with the official
// Standard Webhooks library and answers with the statuses in plan (then 200).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	plan     []int
	got      []http.Header
	bodies   [][]byte
	verified []bool
}

func newReceiver(t *testing.T, plan ...int) *receiver {
	rc := &receiver{plan: plan}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		ok := false
		if rc.secret != "" {
			wh, err := standardwebhooks.NewWebhook(rc.secret)
			ok = err == nil && wh.VerifyIgnoringTimestamp(body, r.Header) == nil
		}
		rc.got, rc.bodies, rc.verified = append(rc.got, r.Header.Clone()), append(rc.bodies, body), append(rc.verified, ok)
		st := http.StatusOK
		if len(rc.plan) > 0 {
			st, rc.plan = rc.plan[0], rc.plan[1:]
		}
		if !ok && rc.secret != "" {
			st = http.StatusUnauthorized
		}
		w.WriteHeader(st)
		fmt.Fprintf(w, "status %d", st)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// A receiver verifies the signature of each message (and would refuse a tampered body
// or another secret); the body is {"type","timestamp","data"} and webhook-id is the
// alert's id.
func TestWebhookReceiverVerifiesSignature(t *testing.T) {
	hookEach(t, func(t *testing.T, e *hookEnv) {
		ctx := context.Background()
		e.Clock.Set(time.Now().UTC().Truncate(time.Second))
		n := e.notifier(false)
		rc := newReceiver(t)
		_, secret := e.endpoint(t, n, rc.URL+"/hook", notify.EndpointInput{})
		rc.secret = secret
		id := e.alert(t, "budget.threshold")
		alertAt := e.Clock.Now()
		e.Clock.Advance(3 * time.Second)
		if _, err := n.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		if sent, err := n.SendDue(ctx); err != nil || sent != 1 {
			t.Fatalf("SendDue = %d, %v", sent, err)
		}
		if rc.count() != 1 || !rc.verified[0] {
			t.Fatalf("receiver got %d messages, verified %v", rc.count(), rc.verified)
		}
		h, body := rc.got[0], rc.bodies[0]
		if h.Get("webhook-id") != id || h.Get("webhook-timestamp") != fmt.Sprint(e.Clock.Now().Unix()) || !strings.HasPrefix(h.Get("webhook-signature"), "v1,") || h.Get("Content-Type") != "application/json" {
			t.Fatalf("headers %v", h)
		}
		var msg struct {
			Type      string
			Timestamp string
			Data      map[string]any
		}
		if err := json.Unmarshal(body, &msg); err != nil || msg.Type != "budget.threshold" || msg.Timestamp != alertAt.Format(time.RFC3339) || msg.Data["alert_id"] != id {
			t.Fatalf("body %s (%v)", body, err)
		}
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(body, h); err != nil {
			t.Fatalf("Verify with tolerance: %v", err)
		}
		if wh.Verify([]byte(strings.Replace(string(body), "80", "81", 1)), h) == nil {
			t.Fatal("a tampered body verified")
		}
		other, _ := standardwebhooks.NewWebhook(notify.NewSecret())
		if other.Verify(body, h) == nil {
			t.Fatal("another secret verified")
		}
		d := e.deliveries(t, "")[0]
		if d.Status != notify.StatusDelivered || d.Attempts != 1 || d.LastStatus != 200 || d.DeliveredAt == nil || d.NextAttemptAt != nil {
			t.Fatalf("delivery %+v", d)
		}
	})
}

// A 500 is retried after the backoff, with the same webhook-id and a fresh timestamp,
// and then delivered; before the backoff has passed nothing is sent.
func TestWebhookRetryWithBackoffThenDelivered(t *testing.T) {
	hookEach(t, func(t *testing.T, e *hookEnv) {
		ctx := context.Background()
		n := e.notifier(false)
		rc := newReceiver(t, 500, 503)
		_, rc.secret = e.endpoint(t, n, rc.URL, notify.EndpointInput{})
		id := e.alert(t, "balance.low")
		if _, err := n.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		t0 := e.Clock.Now()
		mustSend(t, n, 1)
		d := e.deliveries(t, "")[0]
		if d.Status != "pending" || d.Attempts != 1 || d.LastStatus != 500 || !strings.Contains(d.LastError, "HTTP 500") || !d.NextAttemptAt.Equal(t0.Add(10*time.Second)) {
			t.Fatalf("after a 500: %+v", d)
		}
		e.Clock.Advance(9 * time.Second)
		mustSend(t, n, 0)
		e.Clock.Advance(time.Second)
		mustSend(t, n, 1)
		d = e.deliveries(t, "")[0]
		if d.Attempts != 2 || d.LastStatus != 503 || !d.NextAttemptAt.Equal(e.Clock.Now().Add(time.Minute)) {
			t.Fatalf("after a 503: %+v", d)
		}
		e.Clock.Advance(time.Minute)
		mustSend(t, n, 1)
		d = e.deliveries(t, "")[0]
		if d.Status != "delivered" || d.Attempts != 3 || d.LastStatus != 200 || d.LastError != "" || !d.DeliveredAt.Equal(e.Clock.Now()) {
			t.Fatalf("after a 200: %+v", d)
		}
		if rc.count() != 3 {
			t.Fatalf("receiver got %d attempts", rc.count())
		}
		for i, h := range rc.got {
			if h.Get("webhook-id") != id || !rc.verified[i] {
				t.Fatalf("attempt %d: id %q verified %v", i, h.Get("webhook-id"), rc.verified[i])
			}
		}
		if rc.got[0].Get("webhook-timestamp") == rc.got[2].Get("webhook-timestamp") {
			t.Fatal("a retry reused the first attempt's timestamp")
		}
	})
}

func mustSend(t *testing.T, n *notify.Service, want int) {
	t.Helper()
	got, err := n.SendDue(context.Background())
	if err != nil || got != want {
		t.Fatalf("SendDue = %d, %v; want %d", got, err, want)
	}
}

// An endpoint that always fails is tried MaxAttempts times on the backoff schedule,
// then the delivery is failed with its last status and error.
func TestWebhookFailedAfterMaxAttempts(t *testing.T) {
	hookEach(t, func(t *testing.T, e *hookEnv) {
		ctx := context.Background()
		n := e.notifier(false)
		rc := newReceiver(t, slices.Repeat([]int{502}, 20)...)
		_, rc.secret = e.endpoint(t, n, rc.URL, notify.EndpointInput{})
		e.alert(t, "balance.low")
		if _, err := n.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		var waits []time.Duration
		for attempt := 1; attempt <= notify.DefaultMaxAttempts; attempt++ {
			mustSend(t, n, 1)
			d := e.deliveries(t, "")[0]
			if d.Attempts != attempt || d.LastStatus != 502 {
				t.Fatalf("attempt %d: %+v", attempt, d)
			}
			if d.NextAttemptAt == nil {
				break
			}
			wait := d.NextAttemptAt.Sub(e.Clock.Now())
			waits = append(waits, wait)
			e.Clock.Advance(wait)
		}
		if !slices.Equal(waits, notify.Schedule[:notify.DefaultMaxAttempts-1]) {
			t.Fatalf("waits %v, want %v", waits, notify.Schedule[:7])
		}
		d := e.deliveries(t, "")[0]
		if d.Status != "failed" || d.Attempts != 8 || d.NextAttemptAt != nil || !strings.Contains(d.LastError, "502") {
			t.Fatalf("final %+v", d)
		}
		e.Clock.Advance(48 * time.Hour)
		mustSend(t, n, 0)
		if rc.count() != 8 {
			t.Fatalf("receiver got %d attempts, want 8", rc.count())
		}
	})
}

// Concurrent senders on two notifiers never send one attempt twice: every message
// reaches its endpoint exactly once.
func TestSendLeaseNeverDoubleSends(t *testing.T) {
	hookEach(t, func(t *testing.T, e *hookEnv) {
		ctx := context.Background()
		a, b := e.notifier(true), e.notifier(true)
		rc := newReceiver(t)
		_, rc.secret = e.endpoint(t, a, rc.URL, notify.EndpointInput{})
		for range 30 {
			e.alert(t, "budget.threshold")
		}
		if _, err := a.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 6 {
			n := a
			if i%2 == 1 {
				n = b
			}
			wg.Go(func() {
				if _, err := n.SendDue(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		seen := map[string]int{}
		for _, h := range rc.got {
			seen[h.Get("webhook-id")]++
		}
		if len(seen) != 30 || rc.count() != 30 {
			t.Fatalf("receiver got %d posts for %d messages", rc.count(), len(seen))
		}
		if got := len(e.mailer.Sent()); got != 90 {
			t.Fatalf("emails sent %d, want 90 (30 alerts × owner, admin, billing)", got)
		}
		for _, d := range e.deliveries(t, "") {
			if d.Status != "delivered" || d.Attempts != 1 {
				t.Fatalf("delivery %+v", d)
			}
		}
	})
}

// A claim holds its lease: nobody else claims the delivery until it expires, and a
// claim that expired cannot record its outcome over the new claim.
func TestClaimDeliveriesLease(t *testing.T) {
	hookEach(t, func(t *testing.T, e *hookEnv) {
		ctx := context.Background()
		n := e.notifier(false)
		ep, _ := e.endpoint(t, n, "https://example.com", notify.EndpointInput{})
		_, err := n.SendTest(ctx, e.ws, ep.ID)
		acctCheck(t, err)
		now := e.Clock.Now()
		var mu sync.Mutex
		var claims []notify.Delivery
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				got, err := e.DB.ClaimDeliveries(ctx, now, now.Add(time.Minute), 10)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				claims = append(claims, got...)
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(claims) != 1 || claims[0].Attempts != 1 || claims[0].URL != "https://example.com" || !claims[0].EndpointEnabled || claims[0].Secret == "" {
			t.Fatalf("claims %+v", claims)
		}
		first := claims[0]
		if got, _ := e.DB.ClaimDeliveries(ctx, now.Add(59*time.Second), now.Add(2*time.Minute), 10); len(got) != 0 {
			t.Fatal("claimed under a live lease")
		}
		later := now.Add(time.Minute)
		second, err := e.DB.ClaimDeliveries(ctx, later, later.Add(time.Minute), 10)
		if err != nil || len(second) != 1 || second[0].Attempts != 2 {
			t.Fatalf("claim after the lease: %+v %v", second, err)
		}
		ok, err := e.DB.CompleteDelivery(ctx, notify.Outcome{ID: first.ID, Attempts: first.Attempts, LeaseUntil: first.LeaseUntil, Status: "delivered", At: later})
		if err != nil || ok {
			t.Fatalf("expired claim completed: %v %v", ok, err)
		}
		ok, err = e.DB.CompleteDelivery(ctx, notify.Outcome{ID: second[0].ID, Attempts: 2, LeaseUntil: second[0].LeaseUntil, Status: "delivered", HTTPStatus: 204, At: later})
		if err != nil || !ok {
			t.Fatalf("live claim: %v %v", ok, err)
		}
		if d := e.deliveries(t, "")[0]; d.Status != "delivered" || d.LastStatus != 204 || d.EventType != "webhook.test" || !strings.HasPrefix(d.MessageID, "msg_") {
			t.Fatalf("delivery %+v", d)
		}
	})
}

// Email deliveries retry a refused send; a delivery to a disabled endpoint fails.
func TestEmailAndDisabledDeliveries(t *testing.T) {
	hookEach(t, func(t *testing.T, e *hookEnv) {
		ctx := context.Background()
		n := e.notifier(true)
		ep, _ := e.endpoint(t, n, "https://example.invalid", notify.EndpointInput{})
		e.mailer.fail = 1
		e.alert(t, "budget.threshold")
		if _, err := n.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := n.UpdateEndpoint(ctx, e.ws, ep.ID, notify.EndpointInput{Enabled: ptr(false)})
		acctCheck(t, err)
		mustSend(t, n, 4)
		if d := e.deliveries(t, ep.ID)[0]; d.Status != "failed" || d.LastError != "the endpoint is disabled" {
			t.Fatalf("webhook to a disabled endpoint: %+v", d)
		}
		if got := len(e.mailer.Sent()); got != 2 {
			t.Fatalf("sent %d emails in the first round, want 2", got)
		}
		e.Clock.Advance(10 * time.Second)
		mustSend(t, n, 1)
		sent := e.mailer.Sent()
		if len(sent) != 3 || sent[0].Subject != "Budget at 80 %" || sent[0].Text != "Your budget is at 80 %." || len(sent[0].To) != 1 {
			t.Fatalf("emails %+v", sent)
		}
	})
}

// Deliveries page newest first through a cursor.
func TestDeliveriesPaging(t *testing.T) {
	hookEach(t, func(t *testing.T, e *hookEnv) {
		ctx := context.Background()
		n := e.notifier(false)
		ep, _ := e.endpoint(t, n, "https://example.com", notify.EndpointInput{})
		var made []string
		for range 5 {
			d, err := n.SendTest(ctx, e.ws, ep.ID)
			acctCheck(t, err)
			made = append(made, d.ID)
			e.Clock.Advance(time.Second)
		}
		slices.Reverse(made)
		var got []string
		cursor, pages := "", 0
		for {
			page, next, err := n.Deliveries(ctx, notify.DeliveryFilter{WorkspaceID: e.ws, Limit: 2, Cursor: cursor})
			acctCheck(t, err)
			pages++
			for _, d := range page {
				got = append(got, d.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if pages != 3 {
			t.Fatalf("%d pages, want 3", pages)
		}
		if !slices.Equal(got, made) {
			t.Fatalf("paged %v, want %v", got, made)
		}
		_, _, err := n.Deliveries(ctx, notify.DeliveryFilter{WorkspaceID: e.ws, Limit: 2, Cursor: "dlv_nope"})
		acctWantCode(t, err, "invalid_cursor")
		_, _, err = n.Deliveries(ctx, notify.DeliveryFilter{WorkspaceID: e.ws, Limit: 0})
		acctWantCode(t, err, "invalid_limit")
		_, _, err = n.Deliveries(ctx, notify.DeliveryFilter{WorkspaceID: e.ws, EndpointID: "whk_nope", Limit: 5})
		acctWantCode(t, err, "webhook_not_found")
	})
}

// Finished deliveries older than the retention are pruned; pending ones are kept.
func TestPruneDeliveries(t *testing.T) {
	hookEach(t, func(t *testing.T, e *hookEnv) {
		ctx := context.Background()
		n := e.notifier(false)
		rc := newReceiver(t)
		ep, secret := e.endpoint(t, n, rc.URL, notify.EndpointInput{})
		rc.secret = secret
		_, err := n.SendTest(ctx, e.ws, ep.ID) // delivered below
		acctCheck(t, err)
		mustSend(t, n, 1)
		off := false
		_, err = n.UpdateEndpoint(ctx, e.ws, ep.ID, notify.EndpointInput{Enabled: &off})
		acctCheck(t, err)
		e.alert(t, "balance.low") // queues nothing: the endpoint is disabled
		if _, err := n.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		rc.plan = []int{500}
		_, err = n.SendTest(ctx, e.ws, ep.ID) // stays pending after a 500
		acctCheck(t, err)
		mustSend(t, n, 1)
		e.Clock.Advance(notify.Retention - time.Second)
		if k, err := n.Prune(ctx); err != nil || k != 0 {
			t.Fatalf("pruned %d before the retention, %v", k, err)
		}
		e.Clock.Advance(2 * time.Second)
		if k, err := n.Prune(ctx); err != nil || k != 1 {
			t.Fatalf("pruned %d, want 1 (%v)", k, err)
		}
		if ds := e.deliveries(t, ""); len(ds) != 1 || ds[0].Status != "pending" {
			t.Fatalf("left %+v", ds)
		}
	})
}

var _ = store.SQLite
