package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"spectra/internal/audit"
	"spectra/internal/billing"
	"spectra/internal/console"
	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/team"
)

// The console's Workspaces section: the list of every workspace (search, sort, pages,
// create one) and one workspace's page with the operator's actions. Every action is the
// same domain call as the API's route for it:
//
//	grant          ledger.Grant                 POST /api/v1/workspaces/{id}/grants
//	payment        billing.RecordManualPayment  POST /api/v1/workspaces/{id}/payments
//	credit note    billing.IssueCreditNote      POST /api/v1/workspaces/{id}/invoices/{invoice_id}/credit-note
//	overdraft      team.SetOverdraftLimit       PUT  /api/v1/workspaces/{id}/overdraft-limit
//	time zone      team.UpdateWorkspace         PATCH /api/v1/workspaces/{id}
//	create         team.CreateWorkspace         POST /api/v1/workspaces
//
// and each is recorded in the audit log right after it succeeds, with its idempotency
// key, so a replay adds no second entry.

// errConsoleUnavailable answers a console page whose service is not wired.
var errConsoleUnavailable = errs.E(errs.Unavailable, "feature_unavailable", "the operator's console is not available in this deployment")

// adminPageSize is the list's page size.
const adminPageSize = 50

// adminSortColumn is one sortable column header of the list.
type adminSortColumn struct {
	Key, Label string
	Num        bool
	URL        string // the list sorted by this column (flipping the direction when it is the current one)
	Current    string // "ascending", "descending" or ""
}

type adminWorkspacesData struct {
	adminBase
	Rows       []console.WorkspaceRow
	Total      int
	SpendAsOf  time.Time // when the spend this month was read (the console's snapshot)
	Search     string
	Sort       string
	Desc       bool
	Columns    []adminSortColumn
	From, To   int
	PrevURL    string
	NextURL    string
	Error      string
	ErrorCode  string
	FormName   string
	FormOwner  string
	FormZone   string
	Created    string // the id of the workspace just created
	CreatedMsg string
}

// listURL is the list's URL with these parameters.
func listURL(search, sort string, desc bool, page int) string {
	v := url.Values{}
	if search != "" {
		v.Set("q", search)
	}
	if sort != "" && sort != console.SortName {
		v.Set("sort", sort)
	}
	if desc {
		v.Set("desc", "1")
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/admin/workspaces"
	}
	return "/admin/workspaces?" + v.Encode()
}

func (s *Server) adminWorkspaces(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	return s.renderWorkspaceList(w, r, a, http.StatusOK, adminWorkspacesData{})
}

func (s *Server) renderWorkspaceList(w http.ResponseWriter, r *http.Request, a *adminRequest, status int, d adminWorkspacesData) error {
	if s.console == nil {
		return errConsoleUnavailable
	}
	q := r.URL.Query()
	d.adminBase = a.base("Workspaces", "workspaces")
	d.Search, d.Sort, d.Desc = strings.TrimSpace(q.Get("q")), q.Get("sort"), q.Get("desc") == "1"
	if d.Sort == "" {
		d.Sort = console.SortName
	}
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 {
		page = 1
	}
	if d.FormZone == "" {
		d.FormZone = "UTC"
	}
	res, err := s.console.Workspaces(r.Context(), console.ListQuery{Search: d.Search, Sort: d.Sort, Desc: d.Desc,
		Offset: (page - 1) * adminPageSize, Limit: adminPageSize})
	if err != nil {
		return err
	}
	d.Rows, d.Total, d.SpendAsOf = res.Rows, res.Total, res.SpendAsOf
	if len(d.Rows) > 0 {
		d.From, d.To = (page-1)*adminPageSize+1, (page-1)*adminPageSize+len(d.Rows)
	}
	if page > 1 {
		d.PrevURL = listURL(d.Search, d.Sort, d.Desc, page-1)
	}
	if d.To < d.Total {
		d.NextURL = listURL(d.Search, d.Sort, d.Desc, page+1)
	}
	for _, c := range []adminSortColumn{{Key: console.SortName, Label: "Workspace"}, {Key: console.SortOwner, Label: "Owner"},
		{Key: console.SortBalance, Label: "Balance", Num: true}, {Key: console.SortHeld, Label: "Held", Num: true},
		{Key: console.SortSpend, Label: "Spend this month", Num: true}, {Key: console.SortActivity, Label: "Last activity"},
		{Key: console.SortCreated, Label: "Created"}} {
		desc := c.Num || c.Key == console.SortActivity || c.Key == console.SortCreated // figures and times open largest first
		if c.Key == d.Sort {
			desc = !d.Desc
			c.Current = "ascending"
			if d.Desc {
				c.Current = "descending"
			}
		}
		c.URL = listURL(d.Search, c.Key, desc, 1)
		d.Columns = append(d.Columns, c)
	}
	if id := q.Get("created"); id != "" && d.Created == "" {
		d.Created, d.CreatedMsg = id, q.Get("msg")
	}
	return s.render(w, r, status, "admin_workspaces", d)
}

// adminCreateWorkspace creates a workspace (team.CreateWorkspace, as POST
// /api/v1/workspaces) with an owner: an existing account is added as owner, another
// email is invited as owner (when invitations are set up). The owner is checked before
// the workspace is created, so a refusal creates nothing.
func (s *Server) adminCreateWorkspace(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	ctx := r.Context()
	d := adminWorkspacesData{FormName: r.PostFormValue("name"), FormOwner: strings.TrimSpace(r.PostFormValue("owner_email")), FormZone: strings.TrimSpace(r.PostFormValue("timezone"))}
	fail := func(err error) error {
		if k := errs.KindOf(err); k != errs.Invalid && k != errs.Conflict && k != errs.NotFound {
			return err
		}
		d.Error, d.ErrorCode = userMessage(err), errs.CodeOf(err)
		return s.renderWorkspaceList(w, r, a, statusOf(err), d)
	}
	var owner *team.User
	if d.FormOwner != "" {
		email, err := team.NormalizeEmail(d.FormOwner)
		if err != nil {
			return fail(err)
		}
		u, err := s.accounts.UserByEmail(ctx, email)
		switch {
		case err == nil:
			owner = &u
		case errs.KindOf(err) == errs.NotFound && s.invites != nil:
		case errs.KindOf(err) == errs.NotFound:
			return fail(errs.E(errs.Invalid, "owner_not_found", "there is no account with the email %s, and invitations are not set up to invite one", email))
		default:
			return err
		}
		d.FormOwner = email
	}
	if d.FormZone == "" {
		d.FormZone = "UTC"
	}
	if err := team.ValidTimezone(d.FormZone); err != nil {
		return fail(err)
	}
	ws, err := s.team.CreateWorkspace(ctx, team.Workspace{Name: d.FormName, Timezone: d.FormZone})
	if err != nil {
		return fail(err)
	}
	msg := "no owner yet"
	switch {
	case owner != nil:
		if _, err := s.accounts.AddMember(ctx, ws.ID, owner.ID, team.RoleOwner); err != nil {
			return err
		}
		msg = owner.Email + " is its owner"
	case d.FormOwner != "":
		sent, err := s.invites.Invite(ctx, ws.ID, d.FormOwner, team.RoleOwner, nil)
		if err != nil {
			return err
		}
		msg = d.FormOwner + " is invited as its owner"
		if !sent.EmailSent {
			msg += " (no email was sent: share the invitation link from the workspace's Members page)"
		}
	}
	s.audit(ctx, a, audit.Entry{Action: "workspace.create", WorkspaceID: ws.ID, Target: ws.ID, IdempotencyKey: ws.ID,
		After: map[string]string{"name": ws.Name, "timezone": ws.Timezone, "owner": d.FormOwner}})
	http.Redirect(w, r, "/admin/workspaces/"+url.PathEscape(ws.ID)+"?done=created&msg="+url.QueryEscape(msg), http.StatusSeeOther)
	return nil
}

// audit records an operator action of the console. A failure to record is logged, not
// shown: the action itself has taken effect.
func (s *Server) audit(ctx context.Context, a *adminRequest, e audit.Entry) {
	if s.auditLog == nil {
		return
	}
	e.Actor, e.Source = a.Actor(), audit.SourceConsole
	if _, _, err := s.auditLog.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("console: audit entry not recorded", "action", e.Action, "workspace", e.WorkspaceID, "err", err)
	}
}

// grantForm is the grant form's fields. Kind is the credit's kind ("paid" or
// "promotional"); Expires its optional expiry as a datetime-local value
// ("2026-12-31T23:59") in the workspace's time zone.
type grantForm struct {
	Amount, Note, Key string
	Kind, Expires     string
}

// parseGrantCredit reads the grant form's kind and expiry (zero: never, or the
// paid-credit default), as POST …/grants takes them: invalid_credit_kind,
// invalid_expires_at (not a time, or not in the future).
func parseGrantCredit(f grantForm, loc *time.Location, now time.Time) (ledger.CreditKind, time.Time, error) {
	kind := ledger.CreditKind(f.Kind)
	if kind == "" {
		kind = ledger.CreditPaid
	}
	if !kind.Valid() {
		return "", time.Time{}, errs.E(errs.Invalid, "invalid_credit_kind", "the kind of credit must be paid or promotional")
	}
	if f.Expires == "" {
		return kind, time.Time{}, nil
	}
	exp, err := time.ParseInLocation("2006-01-02T15:04", f.Expires, loc)
	if err != nil {
		return "", time.Time{}, errs.E(errs.Invalid, "invalid_expires_at", "the expiry must be a date and time, such as 2026-12-31T23:59")
	}
	if !exp.After(now) {
		return "", time.Time{}, errs.E(errs.Invalid, "invalid_expires_at", "the expiry must be in the future")
	}
	return kind, exp, nil
}

type paymentForm struct {
	Amount, Reference, Note string
}

type creditForm struct {
	Invoice, Amount, Reason, Key string
}

// adminWorkspaceData is one workspace's console page.
type adminWorkspaceData struct {
	adminBase
	WS        team.Workspace
	Bal       ledger.Balance
	Members   []team.Member
	Keys      []team.APIKey
	Documents []billing.Invoice // receipts and statements a credit note may correct
	Billing   bool
	Recent    []audit.Entry
	Flash     string
	Error     string
	ErrorCode string
	ErrorForm string // which form the error is about: grant, payment, credit, overdraft, timezone, price_list
	Grant     grantForm
	Payment   paymentForm
	Credit    creditForm
	Overdraft string
	Zone      string

	// PriceLists are the names of every price list, for the assignment form.
	PriceLists []string
	// Confirm is set on the grant's confirmation step: what will post.
	Confirm *grantConfirm
}

// grantConfirm is what a grant will post, shown before it posts.
type grantConfirm struct {
	Form    grantForm
	Kind    ledger.CreditKind
	Expires string // in the workspace's time zone; "" never
	Amount  money.Amount
	Before  money.Amount
	After   money.Amount
	Wallet  string
	WSName  string
	Confirm string
}

// WSURL is the workspace's console page.
func (d adminWorkspaceData) WSURL() string { return "/admin/workspaces/" + url.PathEscape(d.WS.ID) }

// loadWorkspace fills d for workspace id.
func (s *Server) loadWorkspace(ctx context.Context, a *adminRequest, id string, d *adminWorkspaceData) error {
	ws, err := s.team.Workspace(ctx, id)
	if errs.KindOf(err) == errs.NotFound || errs.Is(err, "invalid_text") {
		return errNoWorkspace
	}
	if err != nil {
		return err
	}
	d.WS = ws
	d.adminBase = a.base(ws.Name, "workspaces")
	if d.Bal, err = s.ledger.Balance(ctx, id); err != nil {
		return err
	}
	if d.Members, err = s.accounts.Members(ctx, id); err != nil {
		return err
	}
	if d.Keys, err = s.team.Keys(ctx, id); err != nil {
		return err
	}
	if s.bill != nil {
		d.Billing = true
		docs, err := s.bill.Invoices(ctx, billing.InvoiceFilter{WorkspaceID: id, Limit: 50})
		if err != nil {
			return err
		}
		for _, doc := range docs {
			if doc.Kind != billing.KindCreditNote {
				d.Documents = append(d.Documents, doc)
			}
		}
	}
	if s.auditLog != nil {
		p, err := s.auditLog.List(ctx, audit.Filter{WorkspaceID: id, Limit: 10})
		if err != nil {
			return err
		}
		d.Recent = p.Entries
	}
	if d.Grant.Key == "" {
		d.Grant.Key = ids.New("grant")
	}
	if d.Credit.Key == "" {
		d.Credit.Key = ids.New("cn")
	}
	if d.Overdraft == "" {
		d.Overdraft = plainAmount(ws.OverdraftLimit)
	}
	if d.Zone == "" {
		d.Zone = ws.Timezone
	}
	lists, err := s.metering.PriceLists(ctx)
	if err != nil && !errs.Is(err, "feature_unavailable") {
		return err
	}
	for _, l := range lists {
		d.PriceLists = append(d.PriceLists, l.Name)
	}
	return nil
}

// flashes are the messages of ?done= after an action.
var flashes = map[string]string{
	"grant":        "Credit granted.",
	"grant_replay": "This grant was already posted with this idempotency key: nothing was posted twice.",
	"payment":      "Payment recorded.",
	"payment_seen": "This payment reference was already recorded: nothing was credited twice.",
	"credit_note":  "Credit note issued.",
	"credit_seen":  "This credit note was already issued with this idempotency key: nothing was issued twice.",
	"overdraft":    "Overdraft limit saved.",
	"timezone":     "Time zone saved.",
	"price_list":   "Price list saved: the workspace's requests are priced by it from now on.",
	"created":      "Workspace created.",
}

func (s *Server) adminWorkspace(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	var d adminWorkspaceData
	if err := s.loadWorkspace(r.Context(), a, r.PathValue("ws"), &d); err != nil {
		return err
	}
	q := r.URL.Query()
	if f, ok := flashes[q.Get("done")]; ok {
		d.Flash = f
		if m := q.Get("msg"); m != "" {
			d.Flash += " " + sentence(m) + "."
		}
	}
	return s.render(w, r, http.StatusOK, "admin_workspace", d)
}

// actionFailed re-renders the workspace page with err shown at form (status from its
// kind); an error that is not the operator's (internal) goes to the error page.
func (s *Server) actionFailed(w http.ResponseWriter, r *http.Request, a *adminRequest, d adminWorkspaceData, form string, err error) error {
	switch errs.KindOf(err) {
	case errs.Invalid, errs.Conflict, errs.NotFound, errs.Forbidden:
	default:
		return err
	}
	if err := s.loadWorkspace(r.Context(), a, r.PathValue("ws"), &d); err != nil {
		return err
	}
	d.Error, d.ErrorCode, d.ErrorForm = userMessage(err), errs.CodeOf(err), form
	if errs.Is(err, ledger.ErrConflict.Code) {
		switch form {
		case "grant":
			d.Error = "This idempotency key was already used for a grant with a different amount or note, so nothing was posted (409 idempotency_conflict). " +
				"To post a new grant, use the new key below; to repeat the earlier one, enter exactly its amount and note."
			d.Grant.Key = ids.New("grant")
		case "credit":
			d.Error = "This idempotency key was already used for a credit note with a different amount or reason, so nothing was issued (409 idempotency_conflict)."
			d.Credit.Key = ids.New("cn")
		case "payment":
			d.Error = "This payment reference was already recorded with a different amount or note, so nothing was credited (409 idempotency_conflict)."
		}
	}
	return s.render(w, r, statusOf(err), "admin_workspace", d)
}

// done redirects to the workspace page with a flash.
func done(w http.ResponseWriter, r *http.Request, id, flash, msg string) {
	target := "/admin/workspaces/" + url.PathEscape(id) + "?done=" + flash
	if msg != "" {
		target += "&msg=" + url.QueryEscape(msg)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

var errInvalidGrantAmount = errs.E(errs.Invalid, "invalid_amount", "the amount must be a positive amount, e.g. 25 or 9.50")

// adminGrant grants credit (ledger.Grant, as POST /api/v1/workspaces/{id}/grants) in
// two steps: the form posts to a confirmation showing what will post; confirming posts
// it, once per idempotency key (generated when the form was shown).
func (s *Server) adminGrant(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	ctx := r.Context()
	id := r.PathValue("ws")
	f := grantForm{Amount: strings.TrimSpace(r.PostFormValue("amount")), Note: strings.TrimSpace(r.PostFormValue("note")), Key: strings.TrimSpace(r.PostFormValue("idempotency_key")),
		Kind: strings.TrimSpace(r.PostFormValue("kind")), Expires: strings.TrimSpace(r.PostFormValue("expires_at"))}
	d := adminWorkspaceData{Grant: f}
	amount, err := money.ParsePositive(f.Amount)
	if err != nil {
		return s.actionFailed(w, r, a, d, "grant", errInvalidGrantAmount)
	}
	ws, err := s.team.Workspace(ctx, id)
	if errs.KindOf(err) == errs.NotFound {
		return errNoWorkspace
	}
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(ws.Timezone)
	if err != nil {
		loc = time.UTC
	}
	kind, expires, err := parseGrantCredit(f, loc, s.now())
	if err != nil {
		return s.actionFailed(w, r, a, d, "grant", err)
	}
	if f.Key == "" || len(f.Key) > 200 {
		return s.actionFailed(w, r, a, d, "grant", errs.E(errs.Invalid, "invalid_idempotency_key", "the idempotency key is required (at most 200 bytes); reload the page for a new one"))
	}
	before, err := s.ledger.Balance(ctx, id)
	if errs.KindOf(err) == errs.NotFound {
		return errNoWorkspace
	}
	if err != nil {
		return err
	}
	if r.PostFormValue("confirm") != "yes" {
		if err := s.loadWorkspace(ctx, a, id, &d); err != nil {
			return err
		}
		d.Confirm = &grantConfirm{Form: f, Amount: amount, Before: before.Balance, After: before.Balance + amount, WSName: d.WS.Name, Kind: kind}
		if !expires.IsZero() {
			d.Confirm.Expires = expires.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
		}
		return s.render(w, r, http.StatusOK, "admin_workspace", d)
	}
	t, created, err := s.ledger.GrantCredit(ctx, id, amount, kind, expires, f.Key, f.Note)
	if err != nil {
		return s.actionFailed(w, r, a, d, "grant", err)
	}
	after, err := s.ledger.Balance(ctx, id)
	if err != nil {
		return err
	}
	s.audit(ctx, a, audit.Entry{Action: "grant", WorkspaceID: id, Target: "transfer " + strconv.FormatInt(t.ID, 10), IdempotencyKey: id + ":" + f.Key,
		Before: map[string]string{"balance": before.Balance.String()},
		After: map[string]string{"balance": after.Balance.String(), "amount": t.Amount.String(), "note": t.Note, "kind": string(kind),
			"expires_at": expiryText(expires)}})
	if !created {
		done(w, r, id, "grant_replay", "")
		return nil
	}
	done(w, r, id, "grant", money.Format(t.Amount, s.currency)+" posted as transfer "+strconv.FormatInt(t.ID, 10))
	return nil
}

// expiryText is an expiry as audit entries show it: RFC 3339, "" when none was given
// (never, or the deployment's paid-credit expiry).
func expiryText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// adminPayment records a payment received outside Stripe (billing.RecordManualPayment,
// as POST /api/v1/workspaces/{id}/payments): once per reference, with its receipt.
func (s *Server) adminPayment(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	ctx := r.Context()
	id := r.PathValue("ws")
	f := paymentForm{Amount: strings.TrimSpace(r.PostFormValue("amount")), Reference: strings.TrimSpace(r.PostFormValue("reference")), Note: strings.TrimSpace(r.PostFormValue("note"))}
	d := adminWorkspaceData{Payment: f}
	if s.bill == nil {
		return s.actionFailed(w, r, a, d, "payment", errs.E(errs.Invalid, "billing_unavailable", "billing is not set up in this deployment, so payments with receipts cannot be recorded; grant credit instead"))
	}
	amount, err := money.ParsePositive(f.Amount)
	if err != nil {
		return s.actionFailed(w, r, a, d, "payment", errInvalidGrantAmount)
	}
	before, err := s.ledger.Balance(ctx, id)
	if errs.KindOf(err) == errs.NotFound {
		return errNoWorkspace
	}
	if err != nil {
		return err
	}
	p, created, err := s.bill.RecordManualPayment(ctx, id, billing.ManualPayment{Amount: amount, Reference: f.Reference, Note: f.Note})
	if err != nil {
		return s.actionFailed(w, r, a, d, "payment", err)
	}
	after, err := s.ledger.Balance(ctx, id)
	if err != nil {
		return err
	}
	s.audit(ctx, a, audit.Entry{Action: "payment", WorkspaceID: id, Target: "receipt " + p.ReceiptNumber, IdempotencyKey: "manual:" + p.Reference,
		Before: map[string]string{"balance": before.Balance.String()},
		After:  map[string]string{"balance": after.Balance.String(), "amount": p.Amount.String(), "reference": p.Reference, "receipt": p.ReceiptNumber}})
	if !created {
		done(w, r, id, "payment_seen", "its receipt is "+p.ReceiptNumber)
		return nil
	}
	done(w, r, id, "payment", money.Format(p.Amount, s.currency)+" credited; receipt "+p.ReceiptNumber)
	return nil
}

// adminCreditNote issues a credit note (billing.IssueCreditNote, as POST
// /api/v1/workspaces/{id}/invoices/{invoice_id}/credit-note), once per idempotency key.
func (s *Server) adminCreditNote(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	ctx := r.Context()
	id := r.PathValue("ws")
	f := creditForm{Invoice: r.PostFormValue("invoice"), Amount: strings.TrimSpace(r.PostFormValue("amount")), Reason: strings.TrimSpace(r.PostFormValue("reason")), Key: strings.TrimSpace(r.PostFormValue("idempotency_key"))}
	d := adminWorkspaceData{Credit: f}
	if s.bill == nil {
		return s.actionFailed(w, r, a, d, "credit", errs.E(errs.Invalid, "billing_unavailable", "billing is not set up in this deployment"))
	}
	var amount money.Amount
	if f.Amount != "" {
		var err error
		if amount, err = money.ParsePositive(f.Amount); err != nil {
			return s.actionFailed(w, r, a, d, "credit", errs.E(errs.Invalid, "invalid_amount", "the amount must be a positive amount, or empty for the rest of the document's total"))
		}
	}
	inv, created, err := s.bill.IssueCreditNote(ctx, id, f.Invoice, billing.CreditNoteRequest{Amount: amount, Reason: f.Reason, IdempotencyKey: f.Key})
	if err != nil {
		return s.actionFailed(w, r, a, d, "credit", err)
	}
	s.audit(ctx, a, audit.Entry{Action: "credit_note", WorkspaceID: id, Target: "credit note " + inv.Number, IdempotencyKey: f.Invoice + ":" + f.Key,
		Before: map[string]string{"document": inv.OriginalNumber},
		After:  map[string]string{"credit_note": inv.Number, "amount": inv.Total.String(), "reason": inv.Note}})
	if !created {
		done(w, r, id, "credit_seen", "it is "+inv.Number)
		return nil
	}
	done(w, r, id, "credit_note", inv.Number+" credits "+money.Format(inv.Total, s.currency)+" of "+inv.OriginalNumber)
	return nil
}

// adminOverdraft sets the overdraft limit (team.SetOverdraftLimit).
func (s *Server) adminOverdraft(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	ctx := r.Context()
	id := r.PathValue("ws")
	raw := strings.TrimSpace(r.PostFormValue("overdraft_limit"))
	d := adminWorkspaceData{Overdraft: raw}
	limit, err := money.ParseNonNegative(raw)
	if err != nil {
		return s.actionFailed(w, r, a, d, "overdraft", errs.E(errs.Invalid, "invalid_overdraft_limit", "the overdraft limit must be zero or a positive amount, e.g. 50"))
	}
	before, after, err := s.team.SetOverdraftLimit(ctx, id, limit)
	if err != nil {
		return s.actionFailed(w, r, a, d, "overdraft", err)
	}
	s.audit(ctx, a, audit.Entry{Action: "workspace.overdraft", WorkspaceID: id, Target: id,
		Before: map[string]string{"overdraft_limit": before.OverdraftLimit.String()},
		After:  map[string]string{"overdraft_limit": after.OverdraftLimit.String()}})
	done(w, r, id, "overdraft", "")
	return nil
}

// adminTimezone sets the time zone (team.UpdateWorkspace, as PATCH
// /api/v1/workspaces/{id}).
func (s *Server) adminTimezone(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	ctx := r.Context()
	id := r.PathValue("ws")
	zone := strings.TrimSpace(r.PostFormValue("timezone"))
	d := adminWorkspaceData{Zone: zone}
	before, err := s.team.Workspace(ctx, id)
	if errs.KindOf(err) == errs.NotFound {
		return errNoWorkspace
	}
	if err != nil {
		return err
	}
	after, err := s.team.UpdateWorkspace(ctx, id, team.WorkspaceUpdate{Timezone: &zone})
	if err != nil {
		return s.actionFailed(w, r, a, d, "timezone", err)
	}
	s.audit(ctx, a, audit.Entry{Action: "workspace.update", WorkspaceID: id, Target: id,
		Before: map[string]string{"timezone": before.Timezone}, After: map[string]string{"timezone": after.Timezone}})
	done(w, r, id, "timezone", "")
	return nil
}

// plainAmount is a as a form shows it: its exact decimal without trailing zeros ("15",
// "12.5", "0").
func plainAmount(a money.Amount) string {
	s := a.String()
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
