package web

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"strings"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/money"
)

//go:embed templates
var templateFS embed.FS

// pageNames are the views; each is templates/<name>.html, parsed with the shared layout
// and partials. A missing one fails New.
var pageNames = []string{"overview", "usage", "requests", "request", "billing", "invoices", "keys", "members", "budgets", "settings",
	"login", "setup", "error", "workspaces", "invite"}

func parsePages(funcs template.FuncMap) (map[string]*template.Template, error) {
	base, err := template.New("base").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, name := range append(pageNames[:len(pageNames):len(pageNames)], adminViews()...) {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse view %s: %w", name, err)
		}
		for _, block := range []string{"layout", "content"} {
			if t.Lookup(block) == nil {
				return nil, fmt.Errorf("web: view %s has no %q template", name, block)
			}
		}
		pages[name] = t
	}
	return pages, nil
}

// funcs are the template helpers. Amounts are formatted from integers; the exact value
// is in the title so a hover shows every micro-unit.
func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) (string, error) { return s.assets.url(name) },
		"money": func(a money.Amount) template.HTML {
			cls := "money"
			if a < 0 {
				cls += " neg"
			}
			return template.HTML(`<span class="` + cls + `" title="` + html.EscapeString(exactMoney(a, s.currency)) + `">` +
				html.EscapeString(money.Format(a, s.currency)) + `</span>`)
		},
		"moneyFine": func(a money.Amount) template.HTML {
			return template.HTML(`<span class="money" title="` + html.EscapeString(exactMoney(a, s.currency)) + `">` +
				html.EscapeString(money.FormatFine(a, s.currency)) + `</span>`)
		},
		"exact": func(a money.Amount) string { return exactMoney(a, s.currency) },
		"int":   formatInt,
		"compact": func(n int64) template.HTML {
			return template.HTML(`<span title="` + formatInt(n) + `">` + html.EscapeString(compactInt(n)) + `</span>`)
		},
		"ms":          func(n int64) string { return formatInt(n) + " ms" },
		"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"add64":       func(a, b int64) int64 { return a + b },
		"amount":      func(n int64) money.Amount { return money.Amount(n) },
		"lower":       strings.ToLower,
		"kindLabel":   func(k ledger.Kind) string { return kindLabels[k] },
		"pctBucket":   func(tenths int64) int64 { return (tenths + 25) / 50 * 5 },
		"statusClass": func(code int) int { return code / 100 },
		"dict":        dict,
	}
}

// render executes the view name with data and writes it with status. An htmx request
// that targets #content gets only the content block, for partial swaps. The page is
// rendered into a buffer first, so a template error becomes a clean 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("web: no view %q", name)
	}
	block := "layout"
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") == "content" && r.Header.Get("HX-History-Restore-Request") != "true" {
		block = "content"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, data); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "HX-Request, HX-Target")
	if st, ok := r.Context().Value(startKey{}).(time.Time); ok {
		h.Set("Server-Timing", fmt.Sprintf("app;dur=%.1f", float64(time.Since(st).Microseconds())/1000))
	}
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

type startKey struct{}

// dict builds a map from key, value pairs, for passing several values to a partial.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
