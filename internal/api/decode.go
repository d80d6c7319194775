package api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/httpjson"
)

// decodeBody reads one JSON object of at most limit bytes from r into v, refusing
// unknown fields, wrong types and trailing data with a specific code.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	return httpjson.Decoder{Limit: limit, NameTypes: true, LimitAfterValue: true}.Decode(w, r, v)
}

// listParam returns the values of a list query parameter, accepting repeated keys,
// the "name[]" form and comma-separated values alike. Empty items are dropped.
func listParam(q url.Values, name string) []string {
	var out []string
	for _, v := range append(q[name], q[name+"[]"]...) {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// parseTime reads RFC 3339 or whole Unix seconds.
func parseTime(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > 253402300799 { // year 9999
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// parseLimit reads an optional page size in [1, max].
func parseLimit(q url.Values, def, max int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, errs.E(errs.Invalid, "invalid_limit", "limit must be an integer from 1 to %d", max)
	}
	return n, nil
}

// loadLocation reads an IANA time zone name.
func loadLocation(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, errs.E(errs.Invalid, "invalid_timezone", "tz %q is not an IANA time zone", name)
	}
	return loc, nil
}

// encodeCursor and decodeCursor make opaque page cursors from positive integers.
func encodeCursor(prefix string, n int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(prefix + ":" + strconv.FormatInt(n, 10)))
}

func decodeCursor(prefix, s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(b), prefix+":")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
