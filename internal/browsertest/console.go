package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// consoleKey is the context key of the browser's consoleLog.
type consoleKey struct{}

// consoleLog keeps the console errors of one browser's page. Its listen runs on the
// tab's reading loop, so a command that returned has had every earlier event listened to.
type consoleLog struct {
	mu      sync.Mutex
	errors  []string
	allowed []string
}

// listen records the events that are errors: console.error and console.assert calls,
// uncaught exceptions and unhandled rejections, and entries of the browser's log at
// level error.
func (c *consoleLog) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, objectText(a))
		}
		msg = "console." + string(e.Type) + ": " + strings.Join(parts, " ") + stackPlace(e.StackTrace)
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		if d == nil {
			return
		}
		msg = "exception: " + d.Text
		if d.Exception != nil {
			msg += " " + objectText(d.Exception)
		}
		if d.URL != "" {
			msg += fmt.Sprintf(" (at %s:%d:%d)", d.URL, d.LineNumber+1, d.ColumnNumber+1)
		} else {
			msg += stackPlace(d.StackTrace)
		}
	case *log.EventEntryAdded:
		if e.Entry == nil || e.Entry.Level != log.EntryLevelError {
			return
		}
		msg = "log (" + string(e.Entry.Source) + "): " + e.Entry.Text
		if e.Entry.URL != "" {
			msg += " (" + e.Entry.URL + ")"
		}
	default:
		return
	}
	c.mu.Lock()
	c.errors = append(c.errors, msg)
	c.mu.Unlock()
}

// objectText is what the DevTools console shows of a value: a string as it is, an
// error with its stack, another value by its description.
func objectText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if len(o.Value) > 0 {
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
		return string(o.Value)
	}
	if o.Description != "" {
		return o.Description
	}
	if o.UnserializableValue != "" {
		return string(o.UnserializableValue)
	}
	return string(o.Type)
}

// stackPlace names the top frame of st: " (at https://…/app.js:12:5)".
func stackPlace(st *runtime.StackTrace) string {
	if st == nil || len(st.CallFrames) == 0 {
		return ""
	}
	f := st.CallFrames[0]
	return fmt.Sprintf(" (at %s:%d:%d)", f.URL, f.LineNumber+1, f.ColumnNumber+1)
}

// unexpected returns the errors that no AllowConsole text matches.
func (c *consoleLog) unexpected() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
next:
	for _, e := range c.errors {
		for _, a := range c.allowed {
			if strings.Contains(e, a) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

// check fails t for each unexpected error, after a round trip to the page so that the
// events it sent before are counted (when the browser still answers).
func (c *consoleLog) check(t testing.TB, ctx context.Context) {
	t.Helper()
	if ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, _ = chromedp.Run(sctx, chromedp.Evaluate[int]("0"))
		cancel()
	}
	errs := c.unexpected()
	if len(errs) == 0 {
		return
	}
	t.Errorf("browsertest: %d console error(s) on the pages of this test:\n  %s", len(errs), strings.Join(errs, "\n  "))
}

func consoleOf(ctx context.Context) *consoleLog {
	c, _ := ctx.Value(consoleKey{}).(*consoleLog)
	if c == nil {
		panic("browsertest: the context does not come from browsertest.New")
	}
	return c
}

// AllowConsole lets the console errors that contain text pass the check of the browser
// of ctx (a context from [New], or one made from it): for a test that loads a page that
// is meant to fail, such as a 404, and so logs "the server responded with a status of
// 404". Allow as narrowly as the test can.
func AllowConsole(ctx context.Context, text string) {
	c := consoleOf(ctx)
	c.mu.Lock()
	c.allowed = append(c.allowed, text)
	c.mu.Unlock()
}

// ConsoleErrors returns the console errors that the pages of the browser of ctx have had
// so far and that AllowConsole does not let pass, each with where it happened. A test may
// call it after each page, to fail at the page that had an error.
func ConsoleErrors(ctx context.Context) []string {
	c := consoleOf(ctx)
	if ctx.Err() == nil {
		_, _ = chromedp.Run(ctx, chromedp.Evaluate[int]("0"))
	}
	return c.unexpected()
}
