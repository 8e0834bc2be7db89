package sandbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// The task and done frames are binary: unsigned varints for numbers and
// lengths, length-prefixed bytes for strings and the JSON they carry
// (events, settings, values), which travel as they are — with JSON frames
// the event was validated and copied by the encoder, scanned and copied
// again by the decoder, and the task's and result's reflection-driven
// coding was about a tenth of each side's CPU for a trivial hook.

// wireBuf appends the binary encoding.
type wireBuf []byte

func (b *wireBuf) uint(v uint64) { *b = binary.AppendUvarint(*b, v) }
func (b *wireBuf) int(v int64)   { *b = binary.AppendVarint(*b, v) }

func (b *wireBuf) bytes(p []byte) {
	b.uint(uint64(len(p)))
	*b = append(*b, p...)
}

func (b *wireBuf) str(s string) {
	b.uint(uint64(len(s)))
	*b = append(*b, s...)
}

func (b *wireBuf) strs(ss []string) {
	b.uint(uint64(len(ss)))
	for _, s := range ss {
		b.str(s)
	}
}

// wireReader decodes what wireBuf wrote; the first error sticks, and every
// length is checked against what is left, so a short or hostile payload
// fails instead of allocating or reading past the end.
type wireReader struct {
	p   []byte
	err error
}

var errShortWire = errors.New("truncated or malformed")

func (r *wireReader) fail() {
	if r.err == nil {
		r.err = errShortWire
	}
	r.p = nil
}

func (r *wireReader) uint() uint64 {
	v, n := binary.Uvarint(r.p)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.p = r.p[n:]
	return v
}

func (r *wireReader) int() int64 {
	v, n := binary.Varint(r.p)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.p = r.p[n:]
	return v
}

// bytes returns a slice of the payload (not a copy); nil when empty.
func (r *wireReader) bytes() []byte {
	n := r.uint()
	if n > uint64(len(r.p)) {
		r.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	b := r.p[:n:n]
	r.p = r.p[n:]
	return b
}

func (r *wireReader) str() string { return string(r.bytes()) }

// text is a string from a worker, which may be compromised: invalid UTF-8
// becomes U+FFFD, as the JSON decoder used to make it.
func (r *wireReader) text() string {
	b := r.bytes()
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// count reads a list length; each element takes at least min bytes.
func (r *wireReader) count(min int) int {
	n := r.uint()
	if n > uint64(len(r.p)/min) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *wireReader) strs() []string {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.str()
	}
	return ss
}

// encodeTask is the payload of an invoke frame.
func encodeTask(b []byte, t *task) []byte {
	w := wireBuf(b)
	for _, s := range [...]string{t.PluginID, t.Version, t.Hash, t.Kind, t.Name} {
		w.str(s)
	}
	w.bytes(t.Event)
	w.uint(uint64(len(t.Capabilities)))
	for _, c := range t.Capabilities {
		w.str(string(c))
	}
	w.strs(t.Collections)
	w.uint(uint64(len(t.Hooks)))
	for _, h := range t.Hooks {
		w.str(string(h))
	}
	w.bytes(t.Settings)
	l := t.Limits
	for _, v := range [...]int64{int64(l.CPU), int64(l.Wall), l.MemoryBytes, int64(l.Subrequests), int64(l.LogBytes),
		int64(l.ResultBytes), int64(l.RequestBytes), int64(l.ResponseBytes), int64(l.HostCalls), int64(l.MaxDepth), int64(l.StackFrames)} {
		w.int(v)
	}
	for _, s := range [...]string{t.Site.Name, t.Site.URL, t.Site.Locale, t.Site.Timezone} {
		w.str(s)
	}
	return w
}

// decodeTask decodes an invoke frame's payload. Event and Settings alias p.
func decodeTask(p []byte) (*task, error) {
	r := &wireReader{p: p}
	t := &task{PluginID: r.str(), Version: r.str(), Hash: r.str(), Kind: r.str(), Name: r.str(), Event: r.bytes()}
	if n := r.count(1); n > 0 {
		t.Capabilities = make([]manifest.Capability, n)
		for i := range t.Capabilities {
			t.Capabilities[i] = manifest.Capability(r.str())
		}
	}
	t.Collections = r.strs()
	if n := r.count(1); n > 0 {
		t.Hooks = make([]manifest.HookName, n)
		for i := range t.Hooks {
			t.Hooks[i] = manifest.HookName(r.str())
		}
	}
	t.Settings = r.bytes()
	l := &t.Limits
	l.CPU, l.Wall, l.MemoryBytes = time.Duration(r.int()), time.Duration(r.int()), r.int()
	l.Subrequests, l.LogBytes, l.ResultBytes = int(r.int()), int(r.int()), int(r.int())
	l.RequestBytes, l.ResponseBytes, l.HostCalls = int(r.int()), int(r.int()), int(r.int())
	l.MaxDepth, l.StackFrames = int(r.int()), int(r.int())
	t.Site = SiteInfo{Name: r.str(), URL: r.str(), Locale: r.str(), Timezone: r.str()}
	if r.err == nil && len(r.p) != 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("task frame: %w", r.err)
	}
	return t, nil
}

// The done frame's payload: a 4-byte value length (noValue = undefined),
// the value, then the usage, the logs, the error and the exports (JSON;
// only Inspect has them).
const noValue = 0xFFFFFFFF

func encodeDone(out outcome) ([][]byte, error) {
	var exports []byte
	if out.Exports != nil {
		var err error
		if exports, err = json.Marshal(out.Exports); err != nil {
			return nil, err
		}
	}
	size := 64 + len(exports)
	for _, l := range out.Logs {
		size += len(l.Level) + len(l.Message) + 24
	}
	head := make([]byte, 4, 4+size)
	if out.Value == nil {
		binary.BigEndian.PutUint32(head, noValue)
	} else {
		binary.BigEndian.PutUint32(head, uint32(len(out.Value)))
	}
	w := wireBuf(head[4:])
	u := out.Usage
	for _, v := range [...]int64{int64(u.CPU), int64(u.Wall), u.PeakMemoryBytes, u.AllocBytes, int64(u.Subrequests)} {
		w.int(v)
	}
	w.uint(uint64(len(out.Logs)))
	for _, l := range out.Logs {
		w.str(l.Level)
		w.str(l.Message)
		w.int(wireTime(l.Time))
	}
	if we := toWire(out.Err); we == nil {
		w.uint(0)
	} else {
		w.uint(1)
		for _, s := range [...]string{we.Kind, we.Limit, we.Value, we.Name, we.Message, we.Stack} {
			w.str(s)
		}
	}
	w.bytes(exports)
	meta := []byte(w)
	if out.Value == nil {
		return [][]byte{head[:4], meta}, nil
	}
	return [][]byte{head[:4], out.Value, meta}, nil
}

// decodeDone decodes what a worker, which may be compromised, reports: the
// value must be valid JSON, strings are made valid UTF-8, every length is
// checked against the frame.
func decodeDone(p []byte) (outcome, error) {
	if len(p) < 4 {
		return outcome{}, fmt.Errorf("short done frame")
	}
	n := binary.BigEndian.Uint32(p)
	p = p[4:]
	var out outcome
	if n != noValue {
		if int64(n) > int64(len(p)) {
			return outcome{}, fmt.Errorf("done frame: value length %d exceeds frame", n)
		}
		out.Value, p = p[:n:n], p[n:]
		if !json.Valid(out.Value) {
			return outcome{}, fmt.Errorf("done frame: value is not valid JSON")
		}
	}
	r := &wireReader{p: p}
	out.Usage = Usage{CPU: time.Duration(r.int()), Wall: time.Duration(r.int()), PeakMemoryBytes: r.int(), AllocBytes: r.int(), Subrequests: int(r.int())}
	if nl := r.count(3); nl > 0 {
		out.Logs = make([]LogLine, nl)
		for i := range out.Logs {
			out.Logs[i] = LogLine{Level: r.text(), Message: r.text(), Time: timeFromWire(r.int())}
		}
	}
	switch r.uint() {
	case 0:
	case 1:
		we := &wireError{Kind: r.text(), Limit: r.text(), Value: r.text(), Name: r.text(), Message: r.text(), Stack: r.text()}
		out.Err = we.toError()
	default:
		r.fail()
	}
	if exports := r.bytes(); r.err == nil && exports != nil {
		out.Exports = new(Exports)
		if err := json.Unmarshal(exports, out.Exports); err != nil {
			return outcome{}, fmt.Errorf("done frame: exports: %w", err)
		}
	}
	if r.err == nil && len(r.p) != 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return outcome{}, fmt.Errorf("done frame: %w", r.err)
	}
	return out, nil
}

// wireTime is t in Unix nanoseconds, 0 for the zero time (which has none).
func wireTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeFromWire(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
