package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded static file with its content hash.
type asset struct {
	body []byte
	hash string // first 16 hex digits of its SHA-256
	mime string
}

// assets are the embedded static files, served under content-hashed URLs
// (/static/<hash>/<name>) with a one-year immutable cache lifetime.
type assets struct {
	files map[string]asset // by name relative to static/, e.g. "app.css", "vendor/htmx.min.js"
}

func loadAssets() (*assets, error) {
	a := &assets{files: map[string]asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(p, ".md") || strings.HasSuffix(p, ".LICENSE") {
			return nil
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		typ := mime.TypeByExtension(path.Ext(p))
		if typ == "" {
			typ = "application/octet-stream"
		}
		a.files[strings.TrimPrefix(p, "static/")] = asset{body: b, hash: hex.EncodeToString(sum[:])[:16], mime: typ}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: load assets: %w", err)
	}
	for _, need := range []string{"app.css", "app.js", "vendor/htmx.min.js", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"} {
		if _, ok := a.files[need]; !ok {
			return nil, fmt.Errorf("web: missing asset %s", need)
		}
	}
	return a, nil
}

// url returns the content-hashed URL of a named asset. An unknown name panics during
// template execution, which New's test render catches.
func (a *assets) url(name string) (string, error) {
	f, ok := a.files[name]
	if !ok {
		return "", fmt.Errorf("web: unknown asset %q", name)
	}
	return "/static/" + f.hash + "/" + name, nil
}

// serveAsset serves /static/{hash}/{file...}. A hash that is not the file's current
// one is a 404, so a stale URL can never be cached with new content.
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	f, ok := s.assets.files[r.PathValue("file")]
	if !ok || r.PathValue("hash") != f.hash {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.mime)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("ETag", `"`+f.hash+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
