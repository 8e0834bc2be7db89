package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
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
	Limits    *runLimitsReport  `json:"limits,omitempty"`
}

// runLimitsReport are the limits the invocation ran under, beside its usage.
type runLimitsReport struct {
	CPUMs       float64 `json:"cpuMs"`
	WallMs      float64 `json:"wallMs"`
	MemoryBytes int64   `json:"memoryBytes"`
	Subrequests int     `json:"subrequests"`
}

func (o *runOutcome) setLimits(l sandbox.Limits) {
	o.Limits = &runLimitsReport{CPUMs: ms(l.CPU), WallMs: ms(l.Wall), MemoryBytes: l.MemoryBytes, Subrequests: l.Subrequests}
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
	if line := o.resources(); line != "" {
		fmt.Fprintln(stdout, line)
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

// resources is the usage line, each figure beside its limit: "resources: cpu
// 12.1 ms of 50, wall 13.0 ms of 5000, peak memory 86.5 KiB of 128.0 MiB,
// subrequests 0 of 10". The limit that ended the run is marked; a figure
// the sandbox could not measure (its worker was stopped before it could
// report) says so rather than printing 0.
func (o *runOutcome) resources() string {
	u, l := o.Usage, o.Limits
	if u == nil {
		return ""
	}
	if l == nil {
		l = &runLimitsReport{}
	}
	hit := ""
	if o.Error != nil {
		hit = o.Error.Limit
	}
	figure := func(name, used, limit, limitName string, measured bool) string {
		s := name + " " + used
		if !measured {
			s = name + " not measured"
		}
		if limit != "" {
			s += " of " + limit
		}
		if hit != "" && hit == limitName {
			s += " (limit hit)"
		}
		return s
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	// A worker that was killed (memory, a crash) reports no CPU or memory.
	measured := u.CPUMs > 0 || u.PeakMemoryBytes > 0
	parts := []string{
		figure("cpu", fmt.Sprintf("%.1f ms", u.CPUMs), num(l.CPUMs), sandbox.LimitCPU, measured),
		figure("wall", fmt.Sprintf("%.1f ms", u.WallMs), num(l.WallMs), sandbox.LimitWall, true),
		figure("peak memory", humanBytes(u.PeakMemoryBytes), humanBytesOrEmpty(l.MemoryBytes), sandbox.LimitMemory, measured),
		figure("subrequests", strconv.Itoa(u.Subrequests), strconv.Itoa(l.Subrequests), sandbox.LimitSubrequests, true),
	}
	return "resources: " + strings.Join(parts, ", ")
}

func humanBytesOrEmpty(n int64) string {
	if n <= 0 {
		return ""
	}
	return humanBytes(n)
}
