package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"spectra/internal/audit"
	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/team"
)

// The operator's audit log over the API: GET /api/v1/audit lists it, and every
// operator call that changes something (any method but GET and HEAD, on a route that
// needs the operator — this API's and every transport's that uses RequireOperator:
// prices, workspaces, keys, members, grants, payments, codes, statements, credit notes,
// upstreams, overdraft — or the operator's call of this API's workspace routes, such as
// the time zone's PATCH) is recorded after it succeeds (2xx), by serveAudited. An entry
// holds:
//
//   - who ("admin-token"), when, the route as the action ("POST /api/v1/workspaces/{id}/grants"),
//     the path's workspace and the path as the target;
//   - After "request.<field>": what was asked, each top-level field of the JSON body that
//     ends within its first 4 KB, as text (an object or array as compact JSON);
//   - After "<field>": the answer's top-level scalar fields (within its first 4 KB) — the
//     created resource's id, amount, new values — and "status" (201 created, 200 a
//     replay or an update);
//   - for the routes in auditSnapshots, the state they change, read through the domain
//     services before the handler (Before) and after it (After), keeping the fields
//     that changed or were asked for: the workspace's fields for PATCH
//     /api/v1/workspaces/{id} and PUT …/overdraft-limit; the balance and available
//     balance for a grant and a manual payment (billinghttp); the key's fields for
//     gatewayhttp's PATCH of a key's limits; for a price put, as Before, the version in
//     effect before ("price": "none" when there was none), its After being the version
//     it made; for another transport's route, what Deps.AuditSnapshots gives (the
//     upstreams' put and delete, say);
//   - the idempotency key: the body's idempotency_key (a payment's reference), prefixed
//     with the path ("…/grants#g1"): a replay adds no second entry. No route honours an
//     Idempotency-Key header, so it is not taken: two calls with one are two entries.
//
// A field whose name says it holds a secret (a secret, password, token, API key,
// private key, credential, authorization, "key", "…_key" but idempotency_key, a link), at any
// depth, is only "set" or "none", never its value. The console records its own actions,
// with before → after, through the same audit.Service.

var errAuditUnavailable = errs.E(errs.Unavailable, "feature_unavailable", "the audit log is not available in this deployment")

// listAudit is GET /api/v1/audit?actor=&action=&workspace_id=&cursor=&limit=: entries
// newest first, and next_cursor to continue.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	if s.auditLog == nil {
		return errAuditUnavailable
	}
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), WorkspaceID: q.Get("workspace_id")}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n <= 0 {
			return errs.E(errs.Invalid, "invalid_cursor", "cursor must be the next_cursor of an earlier page")
		}
		f.BeforeID = n
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > audit.MaxLimit {
			return errs.E(errs.Invalid, "invalid_limit", "limit must be between 1 and %d", audit.MaxLimit)
		}
		f.Limit = n
	}
	p, err := s.auditLog.List(r.Context(), f)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, p)
	return nil
}

// overdraftRequest is the body of PUT /api/v1/workspaces/{id}/overdraft-limit.
type overdraftRequest struct {
	OverdraftLimit string `json:"overdraft_limit"`
}

// putOverdraft sets a workspace's overdraft limit (team.SetOverdraftLimit): the
// operator's decision alone. 200 with the workspace.
func (s *Server) putOverdraft(w http.ResponseWriter, r *http.Request) error {
	var body overdraftRequest
	if err := decodeBody(w, r, MaxBody, &body); err != nil {
		return err
	}
	limit, err := money.ParseNonNegative(body.OverdraftLimit)
	if err != nil {
		return errs.E(errs.Invalid, "invalid_overdraft_limit", "overdraft_limit: %s", amountProblem(err))
	}
	_, ws, err := s.team.SetOverdraftLimit(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, ws)
	return nil
}

// auditWriter remembers the status a handler wrote and the first auditBodyMax bytes of
// its answer.
type auditWriter struct {
	http.ResponseWriter
	status int
	head   []byte
}

func (sw *auditWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *auditWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	if room := auditBodyMax - len(sw.head); room > 0 {
		sw.head = append(sw.head, b[:min(room, len(b))]...)
	}
	return sw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (sw *auditWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// auditBodyMax is how much of a request's body and of its answer an entry looks at: the
// top-level fields that end within it are recorded, the rest are not.
const auditBodyMax = 4 << 10

// AuditSnapshot reads, through the domain services, the state an operator route
// changes, field by field (values as text; AuditFields turns a value into them). It is
// called before the route's handler (the entry's Before) and after it succeeded (its
// After), with the request (its path values) and the top-level fields of its body as
// the entry records them (secrets only "set"/"none"). A failure reading Before leaves it
// empty; one reading After is logged.
type AuditSnapshot func(r *http.Request, asked map[string]string) (map[string]string, error)

// AuditFields is v's JSON encoding's top-level fields as text, as an entry records them:
// a string as itself, a number or boolean as written, an object or array as compact
// JSON, a secret's value only "set" or "none".
func AuditFields(v any) map[string]string {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return topFields(b, true)
}

// auditSnapshot is a route's AuditSnapshot and how its entry uses it.
type auditSnapshot struct {
	read       AuditSnapshot
	beforeOnly bool // the answer says what the route made (a new price version): After is the answer's fields
}

// auditSnapshots is the state each route that changes one reads, by route pattern:
// those this API's services read, then extra (Deps.AuditSnapshots: the other
// transports' routes, wired by cmd/spectra), which may add or replace one. A route
// without a snapshot is recorded with the request's fields and its answer's.
func (s *Server) auditSnapshots(extra map[string]AuditSnapshot) map[string]auditSnapshot {
	ws := auditSnapshot{read: func(r *http.Request, _ map[string]string) (map[string]string, error) {
		w, err := s.team.Workspace(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		return AuditFields(w), nil
	}}
	balance := auditSnapshot{read: func(r *http.Request, _ map[string]string) (map[string]string, error) {
		b, err := s.ledger.Balance(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		return AuditFields(b), nil
	}}
	price := auditSnapshot{beforeOnly: true, read: func(r *http.Request, _ map[string]string) (map[string]string, error) {
		cat, err := s.prices.Catalog(r.Context())
		if err != nil {
			return nil, err
		}
		p, err := cat.At(r.PathValue("model"), s.now())
		if err != nil {
			return map[string]string{"price": "none"}, nil // no version in effect now
		}
		return AuditFields(p), nil
	}}
	// A key's limits (gatewayhttp's PATCH): the key as the workspace's key list shows it.
	key := auditSnapshot{read: func(r *http.Request, _ map[string]string) (map[string]string, error) {
		ks, err := s.team.Keys(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			if k.ID == r.PathValue("key_id") {
				return AuditFields(k), nil
			}
		}
		return map[string]string{"key_id": "none"}, nil
	}}
	m := map[string]auditSnapshot{
		"PATCH /api/v1/workspaces/{id}":               ws,
		"PUT /api/v1/workspaces/{id}/overdraft-limit": ws,
		"POST /api/v1/workspaces/{id}/grants":         balance,
		"POST /api/v1/workspaces/{id}/payments":       balance, // billinghttp's manual payment
		"PUT /api/v1/prices/{model...}":               price,
		"PATCH /api/v1/workspaces/{id}/keys/{key_id}": key,
	}
	for pattern, read := range extra {
		if read != nil {
			m[pattern] = auditSnapshot{read: read}
		}
	}
	return m
}

// serveAudited serves an operator's request with next and, when it changed something
// and succeeded, records it in the audit log: what was asked (the body's top-level
// fields, as After's "request.<field>", secrets as "set"/"none"), the route's state
// before and after (its snapshot, the fields that changed or were asked for), the
// answer's top-level scalar fields and status into After, and the idempotency key
// (the body's idempotency_key, auditKey) so that a replay adds no entry. Its callers
// have checked that the caller is the operator: nothing is read for anyone else.
func (s *Server) serveAudited(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if s.auditLog == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		next.ServeHTTP(w, r)
		return
	}
	var asked map[string]string
	var head []byte
	if r.Body != nil {
		head, _ = io.ReadAll(io.LimitReader(r.Body, auditBodyMax))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		asked = topFields(head, true)
	}
	action := r.Pattern
	if action == "" {
		action = r.Method + " " + r.URL.Path
	}
	snap, hasSnap := s.snapshots[r.Pattern]
	var before map[string]string
	if hasSnap {
		var err error
		if before, err = snap.read(r, asked); err != nil {
			before = nil // the handler reports what is wrong (404, say); a failure is not recorded
		}
	}
	sw := &auditWriter{ResponseWriter: w}
	next.ServeHTTP(sw, r)
	if sw.status < 200 || sw.status > 299 {
		return
	}
	after := topFields(sw.head, false)
	if after == nil {
		after = map[string]string{}
	}
	if hasSnap && !snap.beforeOnly {
		now, err := snap.read(r, asked)
		if err != nil {
			s.log.Error("api: audit state after not read", "action", action, "err", err)
		}
		for k, v := range now {
			after[k] = v
		}
		for k, v := range before {
			if _, named := asked[k]; after[k] == v && !named {
				delete(before, k)
				delete(after, k)
			}
		}
	}
	for k, v := range asked {
		after["request."+k] = v
	}
	after["status"] = strconv.Itoa(sw.status)
	e := audit.Entry{Actor: "admin-token", Source: audit.SourceAPI, Action: action, WorkspaceID: r.PathValue("id"), Target: r.URL.Path,
		Before: before, After: after, IdempotencyKey: auditKey(r, head)}
	if _, _, err := s.auditLog.Record(context.WithoutCancel(r.Context()), e); err != nil {
		s.log.Error("api: audit entry not recorded", "action", action, "err", err)
	}
}

// auditKeyFields names, by route pattern, the body field that is a route's idempotency
// key when it is not idempotency_key: a manual payment is credited once per reference.
var auditKeyFields = map[string]string{
	"POST /api/v1/workspaces/{id}/payments": "reference",
}

// auditKey is the entry's idempotency key: the body's idempotency_key (or the route's
// field in auditKeyFields) — a field only a route that honours it takes, since the
// decoders refuse unknown fields — scoped to the
// path (a grant's key is its workspace's, a credit note's its invoice's) and hashed when
// longer than the log keeps; "" when the body has none. The field is found in head (the
// body's first auditBodyMax bytes) as the handler's decoder (encoding/json) finds it: by
// a case-insensitive name, the last match winning, so that a body with the field and a
// case variant ("Idempotency_Key") is keyed by the value the handler used. An
// Idempotency-Key header is not taken: no route honours it, so two calls with one would
// be two actions.
func auditKey(r *http.Request, head []byte) string {
	field := "idempotency_key"
	if f, ok := auditKeyFields[r.Pattern]; ok {
		field = f
	}
	k := lastFoldedString(head, field)
	if k == "" {
		return ""
	}
	k = r.URL.Path + "#" + k
	if len(k) > 200 {
		sum := sha256.Sum256([]byte(k))
		k = "sha256:" + hex.EncodeToString(sum[:])
	}
	return k
}

// lastFoldedString is the string value of the last top-level field of the JSON object b
// whose name matches name as encoding/json matches a struct field's (foldName); "" when
// there is none, it is not a string, or b is not an object.
func lastFoldedString(b []byte, name string) string {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	want, out := foldName(name), ""
	for d.More() {
		t, err := d.Token()
		if err != nil {
			break
		}
		n, _ := t.(string)
		var v any
		if err := d.Decode(&v); err != nil {
			break
		}
		if foldName(n) == want {
			out, _ = v.(string)
		}
	}
	return out
}

// foldName folds a JSON name as encoding/json does to match a field case-insensitively
// (ASCII upper case; any other rune as unicode.ToUpper(unicode.ToLower(r)), so "ſ" is "S").
func foldName(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(unicode.ToUpper(unicode.ToLower(r)))
	}
	return b.String()
}

// topFields reads a JSON object's top-level fields as text, those that end within b (b
// may be cut short): a string as itself, a number or boolean as written, an object or
// array as compact JSON (only when nested is set, else left out) with its secrets
// hidden. A field whose name says it is a secret (sensitiveName) is "set" or "none",
// never its value (a boolean, such as has_api_key, is no secret and is kept). nil when b is not a JSON object.
func topFields(b []byte, nested bool) map[string]string {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	out := map[string]string{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			break
		}
		name, _ := t.(string)
		var v any
		if err := d.Decode(&v); err != nil {
			break // cut short: the fields before are kept
		}
		if _, isBool := v.(bool); sensitiveName(name) && !isBool { // has_api_key: a yes or no is no secret
			out[name] = setOrNone(v)
			continue
		}
		switch x := v.(type) {
		case string:
			out[name] = x
		case json.Number:
			out[name] = x.String()
		case bool:
			out[name] = strconv.FormatBool(x)
		case nil:
			out[name] = "null"
		default:
			if nested {
				j, _ := json.Marshal(redact(x))
				out[name] = string(j)
			}
		}
	}
	return out
}

// redact hides the secrets of a decoded JSON value, at any depth.
func redact(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if _, isBool := e.(bool); sensitiveName(k) && !isBool {
				x[k] = setOrNone(e)
			} else {
				x[k] = redact(e)
			}
		}
	case []any:
		for i := range x {
			x[i] = redact(x[i])
		}
	}
	return v
}

// setOrNone is what the log shows of a secret: whether it was given.
func setOrNone(v any) string {
	if v == nil || v == "" {
		return "none"
	}
	return "set"
}

// sensitiveName reports whether a field's name says it holds a secret: a secret,
// password, token, API key, private key, credential or authorization, a field named
// "key" (a created key's secret) or ending in "_key" (but not idempotency_key), and a
// link (an invitation's, whose token lets anyone accept it).
func sensitiveName(name string) bool {
	n := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	for _, w := range []string{"secret", "password", "passwd", "token", "api_key", "apikey", "private", "credential", "authorization"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	switch {
	case n == "key" || (strings.HasSuffix(n, "_key") && n != "idempotency_key"):
		return true
	case n == "link" || strings.HasSuffix(n, "_link"): // an invitation's link carries its token
		return true
	}
	return false
}

// audited wraps a route of this API's table so that the operator's calls that change
// something are recorded (serveAudited): those of the operator's routes, and the
// operator's calls of a workspace route (PATCH /api/v1/workspaces/{id}, the time zone,
// say). A workspace key's calls are not operator actions and are not recorded, nor is
// sending events (team.ActUseKeys).
func (s *Server) audited(need team.Action, h http.Handler) http.Handler {
	if need == team.ActPublic || need == team.ActUseKeys {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.isOperator(bearer(r)) { // the guard inside h answers anyone else; nothing is read for them
			h.ServeHTTP(w, r)
			return
		}
		s.serveAudited(h, w, r)
	})
}
