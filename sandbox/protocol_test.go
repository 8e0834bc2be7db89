package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	fw := &frameWriter{w: &buf}
	_ = fw.write(frameCall, encodeCall(7, "storage.posts.get", []byte(`["id"]`))...)
	_ = fw.write(frameAnswer, encodeAnswer(hostAnswer{ID: 7, Result: []byte(`{"a":1}`)})...)
	_ = fw.write(frameAnswer, encodeAnswer(hostAnswer{ID: 8, Error: "nope"})...)
	_ = fw.write(frameAnswer, encodeAnswer(hostAnswer{ID: 9, Fatal: countLimit(LimitSubrequests, 10)})...)
	r := bufio.NewReader(&buf)

	typ, p, err := readFrame(r, 1<<10)
	if err != nil || typ != frameCall {
		t.Fatal(typ, err)
	}
	id, method, args, err := decodeCall(p)
	if err != nil || id != 7 || method != "storage.posts.get" || string(args) != `["id"]` {
		t.Fatalf("call: %d %q %s %v", id, method, args, err)
	}
	want := []hostAnswer{{ID: 7, Result: []byte(`{"a":1}`)}, {ID: 8, Error: "nope"}, {ID: 9, Fatal: countLimit(LimitSubrequests, 10)}}
	for _, w := range want {
		_, p, err := readFrame(r, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		a, err := decodeAnswer(p)
		if err != nil || a.ID != w.ID || string(a.Result) != string(w.Result) || a.Error != w.Error || fmt.Sprint(a.Fatal) != fmt.Sprint(w.Fatal) {
			t.Fatalf("answer %+v, want %+v (%v)", a, w, err)
		}
	}
}

func TestFrameLimits(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	fw := &frameWriter{w: &buf}
	_ = fw.write(frameDone, make([]byte, 100))
	if _, _, err := readFrame(bufio.NewReader(&buf), 50); !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
	for _, p := range [][]byte{nil, {1, 2}, {0, 0, 0, 0, 0, 0, 0, 0, 5}} {
		if _, _, _, err := decodeCall(p); err == nil {
			t.Errorf("decodeCall(%v) accepted", p)
		}
		if _, err := decodeAnswer(p); err == nil {
			t.Errorf("decodeAnswer(%v) accepted", p)
		}
	}
}

func TestDoneRoundTrip(t *testing.T) {
	t.Parallel()
	errs := []error{
		nil,
		cpuLimit(50 * time.Millisecond),
		&ScriptError{Name: "TypeError", Message: "x is not a function", Stack: "at h"},
		fmt.Errorf("%w: hook %q", ErrNotImplemented, "cron"),
		ErrUnsettled,
		fmt.Errorf("return value: %w: cyclic", ErrBadValue),
		errors.New("something else"),
	}
	for _, e := range errs {
		parts, err := encodeDone(outcome{Value: json.RawMessage(`{"ok":true}`), Logs: []LogLine{{Level: "info", Message: "m"}}, Err: e})
		if err != nil {
			t.Fatal(err)
		}
		out, err := decodeDone(bytes.Join(parts, nil))
		if err != nil {
			t.Fatal(err)
		}
		if string(out.Value) != `{"ok":true}` || len(out.Logs) != 1 {
			t.Fatalf("decoded %+v", out)
		}
		switch {
		case e == nil:
			if out.Err != nil {
				t.Fatalf("err = %v", out.Err)
			}
		case out.Err == nil || out.Err.Error() != e.Error() && !errors.Is(e, ErrLimitExceeded):
			t.Fatalf("err %v came back as %v", e, out.Err)
		}
		for _, k := range wireKinds {
			if errors.Is(e, k.err) != errors.Is(out.Err, k.err) {
				t.Fatalf("%v lost its sentinel %v", e, k.err)
			}
		}
	}
	parts, _ := encodeDone(outcome{})
	if out, err := decodeDone(bytes.Join(parts, nil)); err != nil || out.Value != nil {
		t.Fatalf("undefined value: %+v %v", out, err)
	}
	if _, err := decodeDone([]byte{0, 0, 0, 1, '{', '{', '}'}); err == nil {
		t.Fatal("invalid value JSON accepted")
	}
	if _, err := decodeDone([]byte{0, 0, 1, 0, '1'}); err == nil {
		t.Fatal("value length beyond the frame accepted")
	}
}

func TestTaskRoundTrip(t *testing.T) {
	t.Parallel()
	full := &task{
		PluginID: "p", Version: "1.0.0", Hash: "abc", Kind: KindHook, Name: "content:beforeSave",
		Event:        json.RawMessage(`{"data":{"title":"Ünïcode"}}`),
		Capabilities: []manifest.Capability{"content:write", "network:fetch"}, Collections: []string{"a", "b_2"},
		Hooks: []manifest.HookName{"cron"}, Settings: json.RawMessage(`{"k":1}`),
		Limits: DefaultLimits, Site: SiteInfo{Name: "S", URL: "https://x.test", Locale: "en", Timezone: "UTC"},
	}
	full.Limits.CPU, full.Limits.MemoryBytes = -1, 1<<40
	for _, tc := range []*task{full, {Kind: kindInspect, Hash: "h"}} {
		p := encodeTask(nil, tc)
		got, err := decodeTask(p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc) {
			t.Fatalf("decoded %+v, want %+v", got, tc)
		}
		// Every truncation fails, none panics.
		for i := range p {
			if _, err := decodeTask(p[:i]); err == nil {
				t.Fatalf("task truncated at %d of %d accepted", i, len(p))
			}
		}
		if _, err := decodeTask(append(p, 0)); err == nil {
			t.Fatal("trailing byte accepted")
		}
	}
}

func TestDoneCarriesEverything(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	in := outcome{
		Value:   json.RawMessage(`"v"`),
		Exports: &Exports{Hooks: []string{"h"}, Routes: []string{}, HookOptions: map[string]HookOptions{"h": {Priority: json.RawMessage(`5`)}}},
		Logs:    []LogLine{{Level: "warn", Message: "bad \xff byte", Time: now}, {Level: "info", Message: ""}},
		Usage:   Usage{CPU: 3 * time.Millisecond, Wall: time.Second, PeakMemoryBytes: 1 << 20, AllocBytes: 5, Subrequests: 2},
		Err:     &ScriptError{Name: "TypeError", Message: "m", Stack: "at plugin.js:1:2"},
	}
	parts, err := encodeDone(in)
	if err != nil {
		t.Fatal(err)
	}
	p := bytes.Join(parts, nil)
	out, err := decodeDone(p)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.Logs = []LogLine{{Level: "warn", Message: "bad \uFFFD byte", Time: now}, {Level: "info"}}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("decoded %+v, want %+v", out, want)
	}
	for i := range p {
		if _, err := decodeDone(p[:i]); err == nil {
			t.Fatalf("done frame truncated at %d of %d accepted", i, len(p))
		}
	}
}

func TestLimitErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *LimitError
		want string
	}{
		{cpuLimit(50 * time.Millisecond), "limit exceeded: cpu (50 ms)"},
		{wallLimit(5 * time.Second), "limit exceeded: wall (5000 ms)"},
		{memoryLimit(64 << 20), "limit exceeded: memory (64 MiB)"},
		{bytesLimit(LimitLog, 64<<10), "limit exceeded: log (64 KiB)"},
		{bytesLimit(LimitResult, 1000), "limit exceeded: result (1000 bytes)"},
		{countLimit(LimitSubrequests, 10), "limit exceeded: subrequests (10)"},
		{stackLimit(400), "limit exceeded: stack (400 frames)"},
	}
	for _, tc := range tests {
		if tc.err.Error() != tc.want || !errors.Is(tc.err, ErrLimitExceeded) {
			t.Errorf("%#v: %q, want %q", tc.err, tc.err.Error(), tc.want)
		}
	}
}

// FuzzProtocolDecoders: whatever a (compromised) worker or parent sends,
// decoding fails cleanly and never panics; a decoded value is valid JSON.
func FuzzProtocolDecoders(f *testing.F) {
	parts, _ := encodeDone(outcome{Value: json.RawMessage(`[1]`), Logs: []LogLine{{Level: "info", Message: "m"}}, Err: cpuLimit(time.Millisecond)})
	f.Add(bytes.Join(parts, nil))
	f.Add(bytes.Join(encodeAnswer(hostAnswer{ID: 1, Fatal: countLimit(LimitSubrequests, 1)}), nil))
	f.Add(bytes.Join(encodeCall(3, "kv.get", []byte(`["k"]`)), nil))
	f.Add(encodeTask(nil, &task{PluginID: "p", Kind: KindHook, Name: "h", Event: []byte(`{}`), Collections: []string{"c"}, Limits: DefaultLimits}))
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = decodeTask(p)
		_, _, _, _ = decodeCall(p)
		_, _ = decodeAnswer(p)
		if out, err := decodeDone(p); err == nil && out.Value != nil && !json.Valid(out.Value) {
			t.Fatalf("invalid value accepted: %q", out.Value)
		}
		fr := &frameReader{r: bytes.NewReader(p), max: 1 << 16}
		for {
			if _, _, err := fr.next(); err != nil {
				break
			}
		}
	})
}
