package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"

	"spectra/internal/pricing"
)

// geminiMeter follows a streamGenerateContent answer chunk by chunk.
//
// Every chunk may carry usageMetadata, and Google repeats it: promptTokenCount in each,
// candidatesTokenCount and thoughtsTokenCount cumulative. The meter keeps the last one
// seen and never adds two together. Without any, the completion is ⌈bytes/4⌉ of the
// generated content (text, thoughts, function calls and code).
type geminiMeter struct {
	last      *geminiUsage // the last usageMetadata seen
	textBytes int64
	chunks    int64 // chunks that carried generated content
	finished  bool  // every candidate seen has a finishReason
	final     bool  // a usageMetadata came with or after the finish

	// What the closing chunk that Spectra writes itself needs (see geminiClosing).
	responseID, modelVersion string
	indexes                  []int64 // candidate indexes seen, in order
	closed                   map[int64]bool
}

// chunk meters one GenerateContentResponse of the stream.
func (m *geminiMeter) chunk(data []byte) {
	var r geminiResponse
	if decodeGemini(data, &r) != nil {
		return
	}
	if m.responseID == "" {
		m.responseID, m.modelVersion = r.ResponseID, r.ModelVersion
	}
	if n := r.textBytes(); n > 0 {
		m.textBytes += n
		m.chunks++
	}
	for i := range r.Candidates {
		c := &r.Candidates[i]
		if len(m.indexes) < maxCopies && !slices.Contains(m.indexes, c.Index) {
			m.indexes = append(m.indexes, c.Index)
		}
		if c.FinishReason != "" {
			if m.closed == nil {
				m.closed = map[int64]bool{}
			}
			m.closed[c.Index] = true
		}
	}
	if len(m.indexes) > 0 && len(m.closed) >= len(m.indexes) {
		m.finished = true
	}
	if r.UsageMetadata != nil {
		m.last = r.UsageMetadata
		m.final = m.finished
	}
}

// output is the completion counted from the content: ⌈bytes/4⌉.
func (m *geminiMeter) output() int64 {
	return (m.textBytes + outputTextBytes - 1) / outputTextBytes
}

// past reports whether the stream has gone past the output its hold covers: as
// streamMeter.past, or a reported (cumulative) output above it.
func (m *geminiMeter) past(capacity int64) bool {
	if m.last != nil && m.last.usage().Output > capacity {
		return true
	}
	return m.chunks > capacity || m.output() > capacity+capacity/2
}

// result is the usage to charge. complete says the upstream ended its answer normally:
// its last usageMetadata is then the answer's (also when no finishReason came). Else
// (the client left, the upstream broke, or Spectra ended the stream) the charge is
// estimated: the last reported prompt (or the prompt estimate when none came) and the
// larger of the last reported output and ⌈bytes/4⌉ of the content streamed.
func (m *geminiMeter) result(promptEstimate int64, complete bool) (pricing.Usage, bool) {
	if m.last != nil && (m.final || complete) {
		return m.last.usage(), false
	}
	u := pricing.Usage{Input: promptEstimate}
	if m.last != nil {
		u = m.last.usage()
	}
	u.Output = max(u.Output, m.output())
	return u, true
}

// geminiClosing is the chunk Spectra writes to end a stream it cut at its hold: every
// open candidate finishes with MAX_TOKENS, and usageMetadata states the usage charged.
func geminiClosing(m *geminiMeter, u pricing.Usage) []byte {
	type part struct {
		Text string `json:"text"`
	}
	type content struct {
		Role  string `json:"role"`
		Parts []part `json:"parts"`
	}
	type candidate struct {
		Content      content `json:"content"`
		FinishReason string  `json:"finishReason"`
		Index        int64   `json:"index"`
	}
	type usage struct {
		PromptTokenCount        int64 `json:"promptTokenCount"`
		CachedContentTokenCount int64 `json:"cachedContentTokenCount,omitempty"`
		CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
		ThoughtsTokenCount      int64 `json:"thoughtsTokenCount,omitempty"`
		TotalTokenCount         int64 `json:"totalTokenCount"`
	}
	out := struct {
		Candidates    []candidate `json:"candidates"`
		UsageMetadata usage       `json:"usageMetadata"`
		ModelVersion  string      `json:"modelVersion,omitempty"`
		ResponseID    string      `json:"responseId,omitempty"`
	}{
		Candidates: []candidate{},
		UsageMetadata: usage{u.Input, u.CachedInput, u.Output - u.Reasoning, u.Reasoning,
			satAdd(u.Input, u.Output)},
		ModelVersion: m.modelVersion, ResponseID: m.responseID,
	}
	indexes := m.indexes
	if len(indexes) == 0 {
		indexes = []int64{0}
	}
	for _, i := range indexes {
		if !m.closed[i] {
			out.Candidates = append(out.Candidates, candidate{content{"model", []part{{""}}}, "MAX_TOKENS", i})
		}
	}
	b, _ := json.Marshal(out)
	return b
}

// errArrayStream is a JSON-array stream that is not one.
var errArrayStream = errors.New("upstream stream is not a JSON array")

// arrayReader splits Google's JSON-array stream ("[{…}\n,\r\n{…}\n]", written element by
// element) into its elements as they arrive, without waiting for the array to end.
type arrayReader struct {
	br      *bufio.Reader
	started bool // the '[' was read
	ended   bool // the ']' was read
	raw     bytes.Buffer
	read    int64 // bytes read so far
}

func newArrayReader(r io.Reader) *arrayReader {
	return &arrayReader{br: bufio.NewReaderSize(r, 32<<10)}
}

// next returns the next element: raw is every byte read since the previous element
// (the '[' or the ',' and white space, then the element), elem the element itself. Both
// are valid until the next call. After the last element it returns the rest of the body
// (the ']' and any white space) as raw, with a nil elem and io.EOF. An element longer
// than maxEventBytes is errEventTooLarge; a body that is not an array errArrayStream.
func (a *arrayReader) next() (raw, elem []byte, err error) {
	a.raw.Reset()
	// Before an element: white space, the '[' or a ','.
	for {
		c, err := a.readByte()
		if err != nil {
			if errors.Is(err, io.EOF) && !a.ended {
				err = io.ErrUnexpectedEOF
			}
			return a.raw.Bytes(), nil, err
		}
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case a.ended:
			return a.raw.Bytes(), nil, errArrayStream
		case !a.started:
			if c != '[' {
				return a.raw.Bytes(), nil, errArrayStream
			}
			a.started = true
			continue
		case c == ',':
			continue
		case c == ']':
			a.ended = true
			continue
		case c != '{':
			return a.raw.Bytes(), nil, errArrayStream
		}
		if err := a.br.UnreadByte(); err != nil {
			return nil, nil, err
		}
		a.raw.Truncate(a.raw.Len() - 1)
		a.read--
		break
	}
	start := a.raw.Len()
	depth, inString, escaped := 0, false, false
	for {
		c, err := a.readByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return a.raw.Bytes(), nil, err
		}
		if a.raw.Len()-start > maxEventBytes {
			return nil, nil, errEventTooLarge
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
		if depth == 0 {
			b := a.raw.Bytes()
			return b, b[start:], nil
		}
	}
}

func (a *arrayReader) readByte() (byte, error) {
	c, err := a.br.ReadByte()
	if err == nil {
		a.raw.WriteByte(c)
		a.read++
	}
	return c, err
}

// bytesRead is the number of bytes read from the stream so far.
func (a *arrayReader) bytesRead() int64 { return a.read }
