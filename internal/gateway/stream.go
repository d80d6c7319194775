package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"spectra/internal/pricing"
)

// What a stream reads of its upstream after the client has left once the answer has
// finished (a finish_reason, or a Responses ".done" event): at most drainTime and
// drainBytes more, for the usage the upstream is about to send.
const (
	drainTime  = 2 * time.Second
	drainBytes = 64 << 10
)

// maxEventBytes bounds one server-sent event of an upstream stream (and so the chunk a
// stream may relay beyond its hold); a longer one breaks the stream.
const maxEventBytes = 16 << 20

var errEventTooLarge = errors.New("upstream stream event larger than 16 MiB")

// testHookDraining, set by tests only, is called (in its own goroutine) when a stream
// keeps reading its upstream after its client left.
var testHookDraining func(requestID string)

// departure follows a streaming client that may leave before the upstream ends. When
// the answer has not finished, the upstream is cancelled at once (nobody reads what it
// generates); when it has, the upstream is read for drainTime more, for its usage.
type departure struct {
	id     string
	cancel context.CancelFunc

	mu       sync.Mutex
	finished bool
	gone     bool
	timer    *time.Timer
}

// finish records that the answer has finished.
func (d *departure) finish() {
	d.mu.Lock()
	d.finished = true
	d.mu.Unlock()
}

// leave records that the client has gone.
func (d *departure) leave() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gone {
		return
	}
	d.gone = true
	if !d.finished {
		d.cancel()
		return
	}
	d.timer = time.AfterFunc(drainTime, d.cancel)
	if h := testHookDraining; h != nil {
		go h(d.id)
	}
}

// left reports whether the client has gone.
func (d *departure) left() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gone
}

// stop ends the drain timer, if any.
func (d *departure) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
	}
}

// stream relays a server-sent-events answer event by event, metering it on the way.
//
// The usage-only chunk that include_usage adds is dropped when the client did not ask
// for it. The cost follows the body as the HTTP trailer X-Spectra-Cost. The request is
// settled as soon as its usage is known (the usage chunk, or the end marker), before
// that event is written to the client; otherwise when the upstream ends.
//
// A stream that goes past the output its hold covers (c.outCap; see streamMeter.past:
// more text deltas than that, or ⌈bytes/4⌉ of its text above 1.5 times it) is ended by
// Spectra: the chunk that went past it is the last one relayed, the upstream request is
// closed, and the client gets a closing chunk with finish_reason "length", the usage
// chunk if it asked for one, and [DONE] (for the Responses API, a response.incomplete
// event). It is charged the prompt estimate and ⌈bytes/4⌉ of the text it got, recorded
// as estimated: at most 1.5 times the output held, plus the last chunk.
//
// When the client goes away before the answer has finished, the upstream request is
// cancelled and the request is charged for the prompt and the text streamed so far,
// recorded as estimated. When it goes away after (see departure), the upstream is read
// on, without relaying, for the usage it is about to send.
func (g *Gateway) stream(w http.ResponseWriter, c *call, resp *http.Response, dep *departure) {
	h := w.Header()
	h.Set("Content-Type", resp.Header.Get("Content-Type"))
	h.Set("Cache-Control", "no-cache")
	h.Set("Trailer", "X-Spectra-Cost")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()

	wr := c.ep.wireOf()
	m := wr.newMeter(c)
	settled := false
	settle := func(status int) {
		if settled {
			return
		}
		settled = true
		usage, estimated := m.result(c.prompt)
		ev := g.event(c, usage, estimated, status, true)
		if cost, err := pricing.Cost(c.price, ev.Usage); err == nil {
			h.Set("X-Spectra-Cost", cost.String())
		}
		g.settleAsync(c, ev)
	}
	write := func(b []byte) {
		if dep.left() {
			return
		}
		if _, err := w.Write(b); err != nil {
			dep.leave()
		} else if err := rc.Flush(); err != nil {
			dep.leave()
		}
	}

	cut := false
	send := func(raw, data []byte) {
		relay := m.feed(data)
		if len(data) > 0 {
			if m.finished() {
				dep.finish()
			}
			if m.final() {
				settle(http.StatusOK) // before the last bytes of the answer reach the client
			}
		}
		if relay {
			write(raw)
		}
		if !settled && c.outCap > 0 && m.past(c.outCap) {
			cut = true
		}
	}

	sr := wr.events(resp.Body)
	var readErr error
	eof := false
	goneAt := int64(-1)
	for !cut {
		raw, data, err := sr.next()
		if dep.left() {
			if goneAt < 0 {
				goneAt = sr.bytesRead()
			}
			if sr.bytesRead()-goneAt > drainBytes {
				break
			}
		}
		if len(raw) > 0 && (err == nil || errors.Is(err, io.EOF)) {
			send(raw, data)
		}
		if err != nil {
			if eof = errors.Is(err, io.EOF); !eof {
				readErr = err
			}
			break
		}
	}
	if !eof {
		dep.cancel() // nothing more is read: close the upstream request
	}

	if cut {
		settle(http.StatusOK)
		write(m.closing(c))
		return
	}
	status := http.StatusOK
	switch {
	case m.complete(): // the answer finished; the client may have left just after
	case dep.left():
		status = 499 // the client closed the request
	case readErr != nil:
		status = http.StatusBadGateway
		g.log.Warn("upstream stream broke", "upstream", c.up.Name, "request", c.id, "err", readErr)
	}
	settle(status)
}

// sseReader splits a server-sent-events body into events.
type sseReader struct {
	br        *bufio.Reader
	long      []byte // a line longer than br's buffer
	raw, data bytes.Buffer
	read      int64 // bytes read so far
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{br: bufio.NewReaderSize(r, 32<<10)}
}

func (s *sseReader) bytesRead() int64 { return s.read }

// next returns the next event: raw is its lines as received (each ending in "\n", then
// the blank line that ends it), data the values of its data: lines joined by "\n". Both
// are valid until the next call. At the end of the body it returns the last,
// unterminated event (raw may be empty) with io.EOF; an event longer than
// maxEventBytes is errEventTooLarge.
func (s *sseReader) next() (raw, data []byte, err error) {
	s.raw.Reset()
	s.data.Reset()
	for {
		line, err := s.line()
		s.read += int64(len(line))
		if text := bytes.TrimRight(line, "\r\n"); len(text) > 0 {
			s.raw.Write(text)
			s.raw.WriteByte('\n')
			if v, ok := bytes.CutPrefix(text, []byte("data:")); ok {
				if s.data.Len() > 0 {
					s.data.WriteByte('\n')
				}
				s.data.Write(bytes.TrimPrefix(v, []byte(" ")))
			}
			if s.raw.Len() > maxEventBytes {
				return nil, nil, errEventTooLarge
			}
		} else if len(line) > 0 && s.raw.Len() > 0 {
			s.raw.WriteByte('\n')
			return s.raw.Bytes(), s.data.Bytes(), nil
		}
		if err != nil {
			if s.raw.Len() > 0 {
				s.raw.WriteByte('\n')
			}
			return s.raw.Bytes(), s.data.Bytes(), err
		}
	}
}

// line reads one line of at most maxEventBytes.
func (s *sseReader) line() ([]byte, error) {
	line, err := s.br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	s.long = append(s.long[:0], line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		if len(s.long) > maxEventBytes {
			return nil, errEventTooLarge
		}
		line, err = s.br.ReadSlice('\n')
		s.long = append(s.long, line...)
	}
	return s.long, err
}

// closing is what Spectra writes to end a stream it cut off: for chat and completions a
// chunk that finishes every open choice with "length", the usage chunk when the client
// asked for it, and [DONE]; for the Responses API a response.incomplete event. The usage
// it states is the one charged: the prompt estimate and ⌈bytes/4⌉ of the text.
func closing(c *call, m *streamMeter) []byte {
	usage, _ := m.result(c.prompt)
	created := m.created
	if len(created) == 0 {
		created = json.RawMessage(strconv.FormatInt(c.start.Unix(), 10))
	}
	model := m.model
	if model == "" {
		model = c.req.Model
	}
	var out bytes.Buffer
	event := func(name string, v any) {
		b, _ := json.Marshal(v)
		if name != "" {
			out.WriteString("event: " + name + "\n")
		}
		out.WriteString("data: ")
		out.Write(b)
		out.WriteString("\n\n")
	}
	if !c.ep.usageInChunk {
		type respUsage struct {
			InputTokens  int64 `json:"input_tokens"`
			OutputTokens int64 `json:"output_tokens"`
			TotalTokens  int64 `json:"total_tokens"`
		}
		event("response.incomplete", struct {
			Type           string `json:"type"`
			SequenceNumber int64  `json:"sequence_number"`
			Response       any    `json:"response"`
		}{"response.incomplete", m.seq + 1, struct {
			ID                string          `json:"id"`
			Object            string          `json:"object"`
			CreatedAt         json.RawMessage `json:"created_at"`
			Status            string          `json:"status"`
			IncompleteDetails map[string]any  `json:"incomplete_details"`
			Model             string          `json:"model"`
			Output            []any           `json:"output"`
			Usage             respUsage       `json:"usage"`
		}{m.id, "response", created, "incomplete", map[string]any{"reason": "max_output_tokens"}, model, []any{},
			respUsage{usage.Input, usage.Output, usage.Input + usage.Output}}})
		return out.Bytes()
	}
	object := m.object
	if object == "" {
		object = "chat.completion.chunk"
		if c.ep == epCompletions {
			object = "text_completion"
		}
	}
	type head struct {
		ID      string          `json:"id"`
		Object  string          `json:"object"`
		Created json.RawMessage `json:"created"`
		Model   string          `json:"model"`
		Choices []any           `json:"choices"`
		Usage   any             `json:"usage,omitempty"`
	}
	open := head{ID: m.id, Object: object, Created: created, Model: model, Choices: []any{}}
	indexes := m.choices
	if len(indexes) == 0 {
		indexes = []int64{0}
	}
	for _, i := range indexes {
		if m.closed[i] {
			continue
		}
		if c.ep == epCompletions {
			open.Choices = append(open.Choices, map[string]any{"index": i, "text": "", "logprobs": nil, "finish_reason": "length"})
		} else {
			open.Choices = append(open.Choices, map[string]any{"index": i, "delta": map[string]any{}, "logprobs": nil, "finish_reason": "length"})
		}
	}
	if len(open.Choices) > 0 {
		event("", open)
	}
	if c.req.clientUsage {
		event("", head{ID: m.id, Object: object, Created: created, Model: model, Choices: []any{},
			Usage: map[string]int64{"prompt_tokens": usage.Input, "completion_tokens": usage.Output, "total_tokens": usage.Input + usage.Output}})
	}
	out.WriteString("data: [DONE]\n\n")
	return out.Bytes()
}
