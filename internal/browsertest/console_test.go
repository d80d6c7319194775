package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// consolePages serves a clean page, and pages with each kind of console error.
func consolePages() http.Handler {
	page := func(body string) string {
		return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>c</title><link rel="icon" href="data:,"></head><body><p id="ok">ok</p>` + body + `</body></html>`
	}
	mux := http.NewServeMux()
	for path, body := range map[string]string{
		"/clean":     `<script>console.log("fine"); console.warn("only a warning")</script>`,
		"/throws":    `<script>null.series.length</script>`,
		"/rejects":   `<script>Promise.reject(new Error("nobody caught me"))</script>`,
		"/logs":      `<script>console.error("drawing failed:", 42)</script>`,
		"/missing":   `<img src="/no-such-image.png" alt="">`,
		"/caught":    `<script>try { null.x } catch (e) {}</script>`,
		"/after-nav": `<script>setTimeout(() => { throw new TypeError("late") }, 10)</script>`,
	} {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, page(body))
		})
	}
	return mux
}

// consoleTB records the errors of the console check instead of failing the test.
type consoleTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (c *consoleTB) Helper() {}
func (c *consoleTB) Errorf(format string, args ...any) {
	c.mu.Lock()
	c.errors = append(c.errors, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// TestConsoleErrors loads pages with each kind of console error in Chromium: each is
// counted (and a clean page, a warning or a caught exception is not), AllowConsole lets
// a named one pass, and the check at the end of the test fails it with the list.
func TestConsoleErrors(t *testing.T) {
	srv := httptest.NewServer(consolePages())
	defer srv.Close()
	for _, c := range []struct {
		path string
		want string // "" when the page has no error
	}{
		{"/clean", ""},
		{"/caught", ""},
		{"/throws", "exception: Uncaught TypeError: Cannot read properties of null (reading 'series')"},
		{"/rejects", "exception: Uncaught (in promise) Error: nobody caught me"},
		{"/logs", "console.error: drawing failed: 42 (at " + srv.URL + "/logs:"},
		{"/missing", "log (network): Failed to load resource: the server responded with a status of 404 (Not Found) (" + srv.URL + "/no-such-image.png)"},
		{"/after-nav", "exception: Uncaught TypeError: late"},
	} {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			ft := &consoleTB{TB: t}
			t.Run("page", func(t *testing.T) {
				ft.TB = t
				ctx, _ := New(ft)
				if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+c.path), chromedp.WaitVisible(chromedp.ID("ok"))); err != nil {
					t.Fatal(err)
				}
				if c.path == "/after-nav" {
					if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise(r => setTimeout(() => r(true), 50))`, chromedp.EvalAwaitPromise)); err != nil {
						t.Fatal(err)
					}
				}
				got := ConsoleErrors(ctx)
				if c.want == "" {
					if len(got) != 0 {
						t.Errorf("errors on a clean page: %q", got)
					}
					return
				}
				if len(got) != 1 || !strings.HasPrefix(got[0], c.want) {
					t.Errorf("errors: %q\nwant one starting %q", got, c.want)
				}
			})
			// The check at the end of the test (its cleanup, run by now) failed it.
			if c.want == "" && len(ft.errors) != 0 {
				t.Errorf("a clean page failed the test: %q", ft.errors)
			}
			if c.want != "" && (len(ft.errors) != 1 || !strings.Contains(ft.errors[0], c.want)) {
				t.Errorf("the test was not failed with the error: %q", ft.errors)
			}
		})
	}

	t.Run("allowed", func(t *testing.T) {
		ctx, _ := New(t)
		AllowConsole(ctx, "status of 404")
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/missing"), chromedp.WaitVisible(chromedp.ID("ok"))); err != nil {
			t.Fatal(err)
		}
		if got := ConsoleErrors(ctx); len(got) != 0 {
			t.Errorf("an allowed error is counted: %q", got)
		}
	})
}
