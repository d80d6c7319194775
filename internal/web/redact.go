package web

import (
	"net/http"
	"strings"
)

// Redacted stands in the logs for a part of a URL that is a secret.
const Redacted = "<redacted>"

// secretWildcards name the route wildcards whose value is a secret: an invitation
// link's token (/invite/{token}) admits whoever holds it.
var secretWildcards = map[string]bool{"token": true}

// secretPrefixes are paths whose remainder is a secret even when no route matched (a
// mistyped invitation link still carries a real token), wherever they appear in a path.
var secretPrefixes = []string{"/invite/"}

// LoggedPath is the path of r as logs may write it: every segment that a secret
// wildcard of the matched route (r.Pattern) took, and the rest of a path under a secret
// prefix, is replaced by Redacted. Any other path is r.URL.Path unchanged. The query is
// not part of it (a setup link's ?token= never reaches the log).
func LoggedPath(r *http.Request) string {
	path := r.URL.EscapedPath()
	for _, p := range secretPrefixes {
		// Anywhere in the path: "/x/../invite/<token>" is redirected to the link itself.
		if i := strings.Index(path, p); i >= 0 && len(path) > i+len(p) {
			return path[:i+len(p)] + Redacted
		}
	}
	if r.Pattern == "" {
		return r.URL.Path
	}
	pattern := r.Pattern
	if _, after, ok := strings.Cut(pattern, " "); ok { // "METHOD [host]/path"
		pattern = after
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 { // a host
		pattern = pattern[i:]
	}
	want := strings.Split(pattern, "/")
	got := strings.Split(path, "/")
	redacted := false
	for i, seg := range want {
		if i >= len(got) || !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") {
			continue
		}
		name, rest := strings.CutSuffix(seg[1:len(seg)-1], "...")
		if !secretWildcards[name] {
			continue
		}
		redacted = true
		got[i] = Redacted
		if rest {
			got = got[:i+1]
			break
		}
	}
	if !redacted {
		return r.URL.Path
	}
	return strings.Join(got, "/")
}
