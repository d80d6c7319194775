package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"spectra/internal/pricing"
)

// stream relays a server-sent-events answer event by event, metering it on the way.
// The usage-only chunk that include_usage adds is dropped when the client did not ask
// for it. The cost follows the body as the HTTP trailer X-Spectra-Cost. When the client
// goes away, the upstream request is cancelled and the request is charged for the
// prompt and the completion tokens streamed so far, recorded as estimated.
func (g *Gateway) stream(w http.ResponseWriter, r *http.Request, c *call, resp *http.Response, cancel context.CancelFunc) {
	h := w.Header()
	h.Set("Content-Type", resp.Header.Get("Content-Type"))
	h.Set("Cache-Control", "no-cache")
	h.Set("Trailer", "X-Spectra-Cost")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()

	m := &streamMeter{}
	var raw, data bytes.Buffer
	gone := false
	send := func() {
		defer func() { raw.Reset(); data.Reset() }()
		if raw.Len() == 0 {
			return
		}
		if data.Len() > 0 {
			if c.ep.usageInChunk {
				if m.chunk(data.Bytes()) && !c.req.clientUsage {
					return
				}
			} else {
				m.event(data.Bytes())
			}
		}
		if gone {
			return
		}
		raw.WriteByte('\n')
		if _, err := w.Write(raw.Bytes()); err != nil {
			gone = true
		} else if err := rc.Flush(); err != nil {
			gone = true
		}
		if gone {
			cancel() // stop the upstream: nobody reads what it generates
		}
	}
	br := bufio.NewReaderSize(resp.Body, 32<<10)
	var readErr error
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			text := bytes.TrimRight(line, "\r\n")
			if len(text) == 0 {
				send()
			} else {
				raw.Write(text)
				raw.WriteByte('\n')
				if v, ok := bytes.CutPrefix(text, []byte("data:")); ok {
					if data.Len() > 0 {
						data.WriteByte('\n')
					}
					data.Write(bytes.TrimPrefix(v, []byte(" ")))
				}
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
	}
	send()

	status := http.StatusOK
	switch {
	case m.done: // the upstream finished; the client may have left just after
	case gone || r.Context().Err() != nil:
		status = 499 // the client closed the request
	case readErr != nil:
		status = http.StatusBadGateway
		g.log.Warn("upstream stream broke", "upstream", c.up.Name, "request", c.id, "err", readErr)
	}
	usage, estimated := m.result(c.prompt)
	if cost, err := pricing.Cost(c.price, usage); err == nil {
		h.Set("X-Spectra-Cost", cost.String())
	}
	g.settleAsync(c, g.event(c, usage, estimated, status, true))
}
