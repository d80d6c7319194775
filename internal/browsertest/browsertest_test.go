package browsertest

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// testPage is a tiny page whose button changes its own text when clicked. It is
// tall, so that a full-page screenshot is taller than the viewport.
const testPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>browsertest</title>
<style>
  body { font-family: "DejaVu Sans", sans-serif; margin: 2rem; }
  main { min-height: 1500px; background: linear-gradient(#fff, #cde); }
  button { font-size: 1.25rem; padding: .5rem 1rem; }
</style>
</head>
<body>
<main>
  <h1>browsertest</h1>
  <button id="btn" type="button">Click me</button>
</main>
<script>
  document.getElementById("btn").addEventListener("click", (e) => {
    e.target.textContent = "Clicked";
  });
</script>
</body>
</html>
`

func TestClickAndScreenshot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(testPage))
	}))
	defer srv.Close()

	// Take screenshots into a temp dir when the caller did not ask for them,
	// so that Screenshot is exercised on every run.
	shots := os.Getenv(EnvScreenshots)
	if shots == "" {
		shots = t.TempDir()
		t.Setenv(EnvScreenshots, shots)
	}

	ctx, cancel := New(t)
	defer cancel()

	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL),
		chromedp.WaitVisible(chromedp.ID("btn")),
	); err != nil {
		t.Fatal(err)
	}
	before, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("btn")))
	if err != nil {
		t.Fatal(err)
	}
	if before != "Click me" {
		t.Errorf("button text before click = %q, want %q", before, "Click me")
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("btn"))); err != nil {
		t.Fatal(err)
	}
	after, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("btn")))
	if err != nil {
		t.Fatal(err)
	}
	if after != "Clicked" {
		t.Errorf("button text after click = %q, want %q", after, "Clicked")
	}

	for _, tc := range []struct {
		name  string
		width int64
	}{
		{"browsertest/desktop.png", DesktopWidth},
		{"browsertest/phone.png", PhoneWidth},
	} {
		Screenshot(ctx, t, tc.name, tc.width)
		data, err := os.ReadFile(filepath.Join(shots, filepath.FromSlash(tc.name)))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b := img.Bounds()
		if int64(b.Dx()) != tc.width {
			t.Errorf("%s: width = %d, want %d", tc.name, b.Dx(), tc.width)
		}
		if b.Dy() <= windowHeight {
			t.Errorf("%s: height = %d, want a full page taller than the %d px viewport", tc.name, b.Dy(), windowHeight)
		}
	}

	// Screenshot must put the viewport back, so that the rest of a test sees
	// the same page with or without screenshots.
	w, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.innerWidth"))
	if err != nil {
		t.Fatal(err)
	}
	if w != windowWidth {
		t.Errorf("window.innerWidth after screenshots = %d, want %d", w, windowWidth)
	}
}

func TestScreenshotDisabled(t *testing.T) {
	t.Setenv(EnvScreenshots, "")
	// With no directory, Screenshot must not touch the context at all, so a
	// context that is not a chromedp one is fine here.
	Screenshot(t.Context(), t, "never.png", DesktopWidth)
}

func TestScreenshotNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvScreenshots, file)
	Screenshot(t.Context(), t, "never.png", DesktopWidth)
}

func TestBrowserPathFromEnvMissing(t *testing.T) {
	// findBrowser fails the test for a missing $SPECTRA_CHROMIUM; check that
	// with a fake TB so that the real test does not fail.
	t.Setenv(EnvChromium, filepath.Join(t.TempDir(), "no-such-browser"))
	ft := &fakeTB{TB: t}
	runFake(ft, func() { findBrowser(ft) })
	if !ft.fatal {
		t.Error("findBrowser with a missing $SPECTRA_CHROMIUM did not fail the test")
	}
}

func TestBrowserNotFound(t *testing.T) {
	t.Setenv(EnvChromium, "")
	old := candidates
	candidates = []string{filepath.Join(t.TempDir(), "no-such-browser")}
	defer func() { candidates = old }()

	t.Setenv(EnvRequireBrowser, "")
	ft := &fakeTB{TB: t}
	runFake(ft, func() { findBrowser(ft) })
	if !ft.skipped || ft.fatal {
		t.Errorf("without %s: skipped=%v fatal=%v, want a skip", EnvRequireBrowser, ft.skipped, ft.fatal)
	}

	t.Setenv(EnvRequireBrowser, "1")
	ft = &fakeTB{TB: t}
	runFake(ft, func() { findBrowser(ft) })
	if !ft.fatal || ft.skipped {
		t.Errorf("with %s=1: skipped=%v fatal=%v, want a fatal error", EnvRequireBrowser, ft.skipped, ft.fatal)
	}
}

// fakeTB records Skip and Fatal calls instead of acting on them. Both stop
// the function under test with a panic that runFake recovers.
type fakeTB struct {
	testing.TB
	skipped, fatal bool
}

type stopFake struct{}

func (f *fakeTB) Helper()                      {}
func (f *fakeTB) Skip(args ...any)             { f.skipped = true; panic(stopFake{}) }
func (f *fakeTB) Fatal(args ...any)            { f.fatal = true; panic(stopFake{}) }
func (f *fakeTB) Fatalf(string, ...any)        { f.fatal = true; panic(stopFake{}) }
func (f *fakeTB) Skipf(string, ...any)         { f.skipped = true; panic(stopFake{}) }
func (f *fakeTB) Logf(format string, a ...any) {}

func runFake(_ *fakeTB, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stopFake); !ok {
				panic(r)
			}
		}
	}()
	fn()
}
