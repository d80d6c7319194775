// Package browsertest helps Go tests drive a real headless Chromium through
// chromedp.
//
// A test calls [New] to get a chromedp context for a fresh browser, runs
// chromedp actions against it, and may call [Screenshot] to save what the
// page looks like:
//
//	ctx, cancel := browsertest.New(t)
//	defer cancel()
//	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
//		t.Fatal(err)
//	}
//	browsertest.Screenshot(ctx, t, "dashboard/desktop.png", 1280)
//
// The package reads these environment variables:
//
//   - SPECTRA_CHROMIUM: the browser to run, as a path or a name in $PATH.
//     Without it, New tries /usr/bin/chromium, then chromium and
//     google-chrome in $PATH.
//   - SPECTRA_REQUIRE_BROWSER=1: fail, rather than skip, a test when no
//     browser is found. Set it in CI, where a missing browser is a bug.
//   - SPECTRA_SCREENSHOTS: a directory that exists; [Screenshot] writes its
//     PNG files there. Without it, Screenshot does nothing. A relative path is
//     relative to the package directory, where go test runs each test binary,
//     so prefer an absolute one:
//     SPECTRA_SCREENSHOTS=$PWD/shots go test ./...
//
// Every browser from New watches its pages' consoles: a call of console.error, an
// uncaught exception or unhandled rejection, and an error of the browser's own log (a
// resource that failed to load, a blocked script) fails the test when it ends, listed
// with where it happened. A test that causes such an error on purpose says so with
// [AllowConsole]; [ConsoleErrors] returns what was seen so far.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Environment variables that the package reads.
const (
	// EnvChromium names the browser binary, as a path or a name in $PATH.
	EnvChromium = "SPECTRA_CHROMIUM"
	// EnvRequireBrowser, when "1", makes New fail the test instead of
	// skipping it when no browser is found.
	EnvRequireBrowser = "SPECTRA_REQUIRE_BROWSER"
	// EnvScreenshots names the directory that Screenshot writes to.
	EnvScreenshots = "SPECTRA_SCREENSHOTS"
)

// Timeout is the most time that one browser from New may live. When it
// passes, the browser is killed and every chromedp call on its context
// fails, so a hung page fails the test rather than hanging it. New uses a
// shorter time when the test's own deadline (go test -timeout) comes first.
const Timeout = 60 * time.Second

// DesktopWidth and PhoneWidth are the usual viewport widths for Screenshot.
const (
	DesktopWidth int64 = 1280
	PhoneWidth   int64 = 390
)

// windowWidth and windowHeight are the size of the browser window, and so of
// the viewport, between screenshots.
const (
	windowWidth  = 1280
	windowHeight = 800
)

// candidates are the browsers that New tries, in order, when EnvChromium is
// not set.
var candidates = []string{"/usr/bin/chromium", "chromium", "google-chrome"}

// New returns a chromedp context for a fresh headless Chromium, and a cancel func that closes it.
// It looks for the browser in $SPECTRA_CHROMIUM, then /usr/bin/chromium, chromium, google-chrome.
// When none is found it calls t.Skip — unless SPECTRA_REQUIRE_BROWSER=1, in which case t.Fatal.
//
// The browser has already started when New returns, with a new profile in a
// directory from t.TempDir, and with no sandbox, GPU, QUIC, sync, component
// updates or background networking. Its window, and so the page's viewport,
// is 1280×800 CSS pixels. The context ends after [Timeout] at the latest.
//
// Calling cancel is optional: New also registers it with t.Cleanup. cancel
// closes the browser, waits for it to exit, and may be called more than once.
// If the test failed, the cleanup logs the tail of the browser's output.
//
// The cleanup also fails the test for every console error its pages had (see the
// package doc, [AllowConsole] and [ConsoleErrors]). The returned context carries that
// record; contexts made from it share it.
func New(t testing.TB) (context.Context, context.CancelFunc) {
	t.Helper()
	execPath := findBrowser(t)

	// Make the profile directory before registering any other cleanup, so
	// that it is removed last, after the browser has exited.
	profile := t.TempDir()

	timeout := Timeout
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			// Leave time for the test to report the failure before go test
			// panics on its own timeout.
			if left := time.Until(dl) - 5*time.Second; left > time.Second && left < timeout {
				timeout = left
			}
		}
	}
	baseCtx, baseCancel := context.WithTimeout(context.Background(), timeout)

	output := &tailBuffer{max: 64 << 10}
	allocCtx, allocCancel := chromedp.NewExecAllocator(baseCtx,
		chromedp.ExecPath(execPath),
		chromedp.Headless, // also hides scroll bars and mutes audio
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(windowWidth, windowHeight),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(output),
	)
	console := &consoleLog{}
	ctx, ctxCancel := chromedp.NewContext(allocCtx, chromedp.WithListener(console.listen))

	var once sync.Once
	cancel := func() {
		once.Do(func() {
			// Ask the browser to close, so that it stops its child
			// processes itself; if it does not within a few seconds, the
			// cancels below kill it.
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			_ = chromedp.Cancel(cctx)
			ccancel()
			ctxCancel()
			allocCancel() // waits until the browser process has exited
			baseCancel()
			// The profile belongs to t.TempDir, so chromedp does not kill
			// the helper processes that can outlive a killed browser. Do it
			// here, before t.TempDir removes the directory they write to.
			killLeftovers(profile)
		})
	}
	t.Cleanup(func() {
		if baseCtx.Err() == context.DeadlineExceeded {
			t.Errorf("browsertest: the browser was killed when its %v timeout ran out", timeout)
		}
		console.check(t, ctx)
		cancel()
		if t.Failed() {
			if out := output.String(); strings.TrimSpace(out) != "" {
				t.Logf("browser output (%s), last %d bytes:\n%s", execPath, len(out), out)
			}
		}
	})

	// Start the browser now, so that a broken install fails here, with its
	// output, and not in the middle of the test.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("browsertest: starting %s: %v\nbrowser output:\n%s", execPath, err, output.String())
	}
	return context.WithValue(ctx, consoleKey{}, console), cancel
}

// findBrowser returns the path of the browser to run, or skips or fails the
// test when there is none.
func findBrowser(t testing.TB) string {
	t.Helper()
	if name := os.Getenv(EnvChromium); name != "" {
		path, err := exec.LookPath(name)
		if err != nil {
			// A browser that was asked for by name and is missing is a
			// mistake in the setup, not a reason to skip.
			t.Fatalf("browsertest: %s=%q: %v", EnvChromium, name, err)
		}
		return path
	}
	for _, name := range candidates {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := "browsertest: no Chromium found (tried $" + EnvChromium + ", " +
		strings.Join(candidates, ", ") + "); install the Debian package chromium or set $" + EnvChromium
	if os.Getenv(EnvRequireBrowser) == "1" {
		t.Fatal(msg + " ($" + EnvRequireBrowser + "=1)")
	}
	t.Skip(msg)
	return ""
}

// Screenshot saves a full-page PNG of the current page to path when SPECTRA_SCREENSHOTS is a directory
// (path is relative to it), at the given viewport width (e.g. 1280 desktop, 390 phone); otherwise does nothing.
//
// name is a slash-separated path inside the directory, such as
// "dashboard/phone.png"; missing parent directories are created, and an
// existing file is replaced. The image has the full height of the page at
// that width. For the capture the viewport is resized to width, the page is
// given two animation frames and its fonts to settle, and afterwards the
// viewport is put back, so a test behaves the same with and without
// screenshots. Putting it back clears any emulation the test set (a phone's
// size, touch): such a test sets it again after the screenshot. A failure to take or save the screenshot is reported with
// t.Errorf; the test goes on.
func Screenshot(ctx context.Context, t testing.TB, name string, width int64) {
	t.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		return
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Logf("browsertest: $%s=%q is not a directory; not saving screenshot %s", EnvScreenshots, dir, name)
		return
	}
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		t.Errorf("browsertest: screenshot name %q must be a relative path inside $%s", name, EnvScreenshots)
		return
	}
	if width <= 0 {
		t.Errorf("browsertest: screenshot %s: width %d must be positive", name, width)
		return
	}
	png, err := chromedp.Run(ctx, fullPagePNG(width))
	if err != nil {
		t.Errorf("browsertest: screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Errorf("browsertest: screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("browsertest: screenshot %s: %v", name, err)
		return
	}
	t.Logf("browsertest: saved screenshot %s", path)
}

// settleJS resolves once web fonts have loaded and two animation frames have
// passed, which gives resize handlers (such as a chart redrawing at a new
// width) a chance to run.
const settleJS = `document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))))`

// restoredJS resolves once window.innerWidth is the given width again, or after 10 s (the caller's
// check of the width then fails).
const restoredJS = `new Promise(r => { const t0 = performance.now();
	(function check() { if (window.innerWidth === %d || performance.now() - t0 > 10000) r(); else requestAnimationFrame(check); })(); })`

// fullPagePNG is an action that resizes the viewport to width, captures the
// whole page as a PNG, and clears the viewport override again.
func fullPagePNG(width int64) chromedp.Action[[]byte] {
	return func(ctx context.Context, tgt *chromedp.Target) (png []byte, err error) {
		before, err := chromedp.Evaluate[int]("window.innerWidth")(ctx, tgt)
		if err != nil {
			return nil, err
		}
		if _, err := cdp.Call(ctx, tgt, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width:             width,
			Height:            windowHeight,
			DeviceScaleFactor: 1,
		}); err != nil {
			return nil, err
		}
		defer func() {
			_, cerr := cdp.Call(ctx, tgt, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
			err = errors.Join(err, cerr)
			if cerr == nil {
				// The page learns of its restored size asynchronously (under load, after
				// the call returns): wait for it, so the test goes on at the old width.
				_, werr := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(restoredJS, before), chromedp.EvalAwaitPromise)(ctx, tgt)
				err = errors.Join(err, werr)
			}
		}()
		if _, err := chromedp.Evaluate[chromedp.Void](settleJS, chromedp.EvalAwaitPromise)(ctx, tgt); err != nil {
			return nil, err
		}
		m, err := cdp.Call(ctx, tgt, page.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		height := float64(windowHeight)
		if m.CSSContentSize != nil && m.CSSContentSize.Height > height {
			height = m.CSSContentSize.Height
		}
		res, err := cdp.Call(ctx, tgt, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:                page.CaptureScreenshotFormatPng,
			Clip:                  &page.Viewport{Width: float64(width), Height: height, Scale: 1},
			FromSurface:           new(true),
			CaptureBeyondViewport: new(true),
		})
		if err != nil {
			return nil, err
		}
		return res.Data, nil
	}
}

// killLeftovers kills, on Linux, the processes whose command line has
// --user-data-dir=dir: helper processes of a browser that was killed rather
// than closed. It looks until it finds none, for up to two seconds.
func killLeftovers(dir string) {
	if runtime.GOOS != "linux" {
		return
	}
	want := []byte("--user-data-dir=" + dir)
	deadline := time.Now().Add(2 * time.Second)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return
		}
		found := 0
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil {
				continue
			}
			for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
				if bytes.Equal(arg, want) {
					if p, err := os.FindProcess(pid); err == nil {
						_ = p.Kill()
					}
					found++
					break
				}
			}
		}
		if found == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

// tailBuffer is an io.Writer, safe for concurrent use, that keeps the last
// max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// Write appends p, dropping the oldest bytes beyond max.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns the bytes kept so far.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
