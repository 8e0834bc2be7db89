package sandbox

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// The worker protocol: length-prefixed frames over the worker's stdin
// (parent → worker) and stdout (worker → parent). A frame is a 4-byte
// big-endian length n, then n bytes: one type byte and the payload.
// Payloads are binary (wire.go); the rare fatal report is JSON.
const (
	frameHello  = 'h' // worker → parent: ready to serve
	frameInvoke = 'i' // parent → worker: a task (binary, see encodeTask)
	frameNeed   = 'q' // worker → parent: send the script for this hash
	frameScript = 's' // parent → worker: hash, '\n', script
	frameCall   = 'c' // worker → parent: id, method, args (binary)
	frameAnswer = 'a' // parent → worker: id, kind, payload (binary)
	frameCancel = 'k' // worker → parent: the plugin gave up on a host call (8-byte id)
	frameDone   = 'd' // worker → parent: the outcome
	frameFatal  = 'x' // worker → parent: a limit the runtime ignored; the worker exits
)

// fatalReport is a fatal frame's payload: the limit the runtime ignored
// and the CPU its thread had used by then (0 when unknown).
type fatalReport struct {
	LimitError
	CPU time.Duration `json:"cpu"`
}

// answer kinds in an answer frame.
const (
	answerResult = 0
	answerError  = 1
	answerFatal  = 2
)

var errFrameTooLarge = errors.New("frame too large")

// frameWriter serialises frames from several goroutines onto one pipe.
type frameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (fw *frameWriter) write(typ byte, parts ...[]byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	b := fw.buf[:0]
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = append(b, typ)
	for _, p := range parts {
		b = append(b, p...)
	}
	_, err := fw.w.Write(b)
	if cap(b) <= 64<<10 {
		fw.buf = b
	}
	return err
}

// readFrame reads one frame of at most max bytes.
func readFrame(r *bufio.Reader, max int) (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return 0, nil, fmt.Errorf("empty frame")
	}
	if int64(n) > int64(max) {
		return 0, nil, fmt.Errorf("%w: %d bytes", errFrameTooLarge, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return buf[0], buf[1:], nil
}

// frameReader reads frames and survives read errors mid-frame (a deadline
// set by the watchdog): the partial frame is kept and the next call resumes.
type frameReader struct {
	r   io.Reader
	max int
	hdr [4]byte
	nh  int
	buf []byte
	nb  int
}

func (fr *frameReader) next() (byte, []byte, error) {
	for fr.nh < len(fr.hdr) {
		n, err := fr.r.Read(fr.hdr[fr.nh:])
		fr.nh += n
		if err != nil && fr.nh < len(fr.hdr) {
			return 0, nil, err
		}
	}
	if fr.buf == nil {
		n := binary.BigEndian.Uint32(fr.hdr[:])
		if n == 0 {
			return 0, nil, fmt.Errorf("empty frame")
		}
		if int64(n) > int64(fr.max) {
			return 0, nil, fmt.Errorf("%w: %d bytes", errFrameTooLarge, n)
		}
		fr.buf, fr.nb = make([]byte, n), 0
	}
	for fr.nb < len(fr.buf) {
		n, err := fr.r.Read(fr.buf[fr.nb:])
		fr.nb += n
		if err != nil && fr.nb < len(fr.buf) {
			return 0, nil, err
		}
	}
	b := fr.buf
	fr.buf, fr.nh, fr.nb = nil, 0, 0
	return b[0], b[1:], nil
}

// encodeCall: 8-byte id, 1-byte method length, method, args.
func encodeCall(id uint64, method string, args []byte) [][]byte {
	head := make([]byte, 0, 9+len(method))
	head = binary.BigEndian.AppendUint64(head, id)
	head = append(head, byte(len(method)))
	head = append(head, method...)
	return [][]byte{head, args}
}

func decodeCall(p []byte) (id uint64, method string, args []byte, err error) {
	if len(p) < 9 || len(p) < 9+int(p[8]) {
		return 0, "", nil, fmt.Errorf("short call frame")
	}
	id = binary.BigEndian.Uint64(p)
	m := int(p[8])
	return id, string(p[9 : 9+m]), p[9+m:], nil
}

// encodeAnswer: 8-byte id, 1-byte kind, payload (result JSON, error text,
// or the fatal LimitError as JSON).
func encodeAnswer(a hostAnswer) [][]byte {
	head := binary.BigEndian.AppendUint64(make([]byte, 0, 9), a.ID)
	switch {
	case a.Fatal != nil:
		b, _ := json.Marshal(a.Fatal)
		return [][]byte{append(head, answerFatal), b}
	case a.Error != "":
		return [][]byte{append(head, answerError), []byte(a.Error)}
	default:
		return [][]byte{append(head, answerResult), a.Result}
	}
}

func decodeAnswer(p []byte) (hostAnswer, error) {
	if len(p) < 9 {
		return hostAnswer{}, fmt.Errorf("short answer frame")
	}
	a := hostAnswer{ID: binary.BigEndian.Uint64(p)}
	body := p[9:]
	switch p[8] {
	case answerResult:
		a.Result = body
	case answerError:
		a.Error = string(body)
		if a.Error == "" {
			a.Error = "host call failed"
		}
	case answerFatal:
		a.Fatal = new(LimitError)
		if err := json.Unmarshal(body, a.Fatal); err != nil {
			return hostAnswer{}, fmt.Errorf("answer frame: %w", err)
		}
	default:
		return hostAnswer{}, fmt.Errorf("answer frame: unknown kind %d", p[8])
	}
	return a, nil
}

// wireError carries an invocation error from the worker, keeping the
// sentinel it matches so callers can still use errors.Is / errors.As.
type wireError struct {
	Kind    string `json:"kind"`
	Limit   string `json:"limit,omitempty"`
	Value   string `json:"value,omitempty"`
	Name    string `json:"name,omitempty"`
	Message string `json:"message,omitempty"`
	Stack   string `json:"stack,omitempty"`
}

// wireKinds maps sentinel errors to their wire names.
var wireKinds = []struct {
	kind string
	err  error
}{
	{"notimpl", ErrNotImplemented},
	{"badscript", ErrBadScript},
	{"unsettled", ErrUnsettled},
	{"badvalue", ErrBadValue},
	{"denied", ErrDenied},
	{"invalid", ErrInvalidInvocation},
}

func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	var le *LimitError
	if errors.As(err, &le) {
		return &wireError{Kind: "limit", Limit: le.Limit, Value: le.Value}
	}
	var se *ScriptError
	if errors.As(err, &se) {
		return &wireError{Kind: "script", Name: se.Name, Message: se.Message, Stack: se.Stack}
	}
	for _, k := range wireKinds {
		if errors.Is(err, k.err) {
			return &wireError{Kind: k.kind, Message: err.Error()}
		}
	}
	return &wireError{Kind: "other", Message: err.Error()}
}

func (w *wireError) toError() error {
	if w == nil {
		return nil
	}
	switch w.Kind {
	case "limit":
		return &LimitError{Limit: w.Limit, Value: w.Value}
	case "script":
		return &ScriptError{Name: w.Name, Message: w.Message, Stack: w.Stack}
	}
	for _, k := range wireKinds {
		if w.Kind == k.kind {
			return &remoteError{msg: w.Message, kind: k.err}
		}
	}
	return &remoteError{msg: w.Message}
}

// remoteError is an error reported by a worker, matching its sentinel.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }
