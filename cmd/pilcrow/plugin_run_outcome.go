package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// runOutcome is what `plugin run` reports; its JSON is the --json output.
type runOutcome struct {
	OK        bool              `json:"ok"`
	Kind      string            `json:"kind"`
	Name      string            `json:"name"`
	EventFile string            `json:"eventFile,omitempty"`
	Result    json.RawMessage   `json:"result"`
	Error     *runError         `json:"error,omitempty"`
	Logs      []sandbox.LogLine `json:"logs"`
	Usage     *runUsageReport   `json:"usage,omitempty"`
}

// runError describes why an invocation failed. Kind is empty when the
// failure was not the plugin's (the sandbox or site could not run it).
type runError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Limit   string `json:"limit,omitempty"`
	Stack   string `json:"stack,omitempty"`
}

type runUsageReport struct {
	CPUMs           float64 `json:"cpuMs"`
	WallMs          float64 `json:"wallMs"`
	PeakMemoryBytes int64   `json:"peakMemoryBytes"`
	Subrequests     int     `json:"subrequests"`
}

func newRunOutcome(kind, name, eventFile string, res *sandbox.Result, err error) *runOutcome {
	out := &runOutcome{OK: err == nil, Kind: kind, Name: name, EventFile: eventFile, Logs: []sandbox.LogLine{}}
	if res != nil {
		out.Result = res.Value
		if res.Logs != nil {
			out.Logs = res.Logs
		}
		out.Usage = &runUsageReport{
			CPUMs:           ms(res.Usage.CPU),
			WallMs:          ms(res.Usage.Wall),
			PeakMemoryBytes: res.Usage.PeakMemoryBytes,
			Subrequests:     res.Usage.Subrequests,
		}
	}
	if out.Result == nil {
		out.Result = json.RawMessage("null")
	}
	if err != nil {
		out.Error = classifyRunError(kind, name, err)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// classifyRunError names what went wrong, in the words a plugin author needs:
// which limit, what the plugin threw, which call was refused.
func classifyRunError(kind, name string, err error) *runError {
	what := kind + " " + name
	var limit *sandbox.LimitError
	var script *sandbox.ScriptError
	switch {
	case errors.As(err, &limit):
		return &runError{Kind: "limit", Limit: limit.Limit, Message: fmt.Sprintf("%s stopped: %v", what, limit)}
	case errors.Is(err, sandbox.ErrDenied):
		return &runError{Kind: "rejected", Message: fmt.Sprintf("%s was rejected: %v", what, err)}
	case errors.As(err, &script):
		msg := fmt.Sprintf("%s threw: %v", what, script)
		if name == string(manifest.HookBeforeSave) || name == string(manifest.HookMediaBeforeUpload) {
			msg += " (on a site this rejects the save with that message)"
		}
		return &runError{Kind: "threw", Message: msg, Stack: script.Stack}
	case errors.Is(err, plugins.ErrUnknownExport):
		return &runError{Kind: "not-declared", Message: err.Error()}
	case errors.Is(err, sandbox.ErrNotImplemented):
		return &runError{Kind: "not-exported", Message: fmt.Sprintf("the plugin's default export has no %s %q", kind, name)}
	case errors.Is(err, sandbox.ErrUnsettled):
		return &runError{Kind: "unsettled", Message: fmt.Sprintf("%s returned a promise that never settles", what)}
	case errors.Is(err, sandbox.ErrBadValue):
		return &runError{Kind: "bad-value", Message: fmt.Sprintf("%s: %v", what, err)}
	case errors.Is(err, sandbox.ErrBadScript):
		return &runError{Kind: "bad-script", Message: err.Error()}
	case errors.Is(err, sandbox.ErrWorkerCrashed):
		return &runError{Kind: "crashed", Message: fmt.Sprintf("%s crashed its sandbox worker: %v", what, err)}
	}
	return &runError{Message: err.Error()}
}

// print writes the outcome for people: the result and logs to stdout, a
// failure to stderr.
func (o *runOutcome) print(stdout, stderr io.Writer) {
	if o.Error == nil {
		if bytes.Equal(o.Result, []byte("null")) {
			fmt.Fprintln(stdout, "result: undefined")
		} else {
			var pretty bytes.Buffer
			if json.Indent(&pretty, o.Result, "", "  ") != nil {
				pretty.Reset()
				pretty.Write(o.Result)
			}
			fmt.Fprintf(stdout, "result:\n%s\n", pretty.String())
		}
	}
	if len(o.Logs) > 0 {
		fmt.Fprintln(stdout, "logs:")
		for _, l := range o.Logs {
			fmt.Fprintf(stdout, "  %-5s %s\n", l.Level, l.Message)
		}
	}
	if u := o.Usage; u != nil {
		fmt.Fprintf(stdout, "resources: cpu %.1f ms, wall %.1f ms, peak memory %s, subrequests %d\n",
			u.CPUMs, u.WallMs, humanBytes(u.PeakMemoryBytes), u.Subrequests)
	}
	if o.Error != nil {
		fmt.Fprintf(stderr, "pilcrow plugin run: %s\n", o.Error.Message)
		if o.Error.Stack != "" {
			fmt.Fprintln(stderr, indent(o.Error.Stack, "    "))
		}
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
