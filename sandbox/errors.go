package sandbox

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors callers test with errors.Is.
var (
	// ErrLimitExceeded matches every *LimitError.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrNotImplemented: the plugin does not export the requested hook or route.
	ErrNotImplemented = errors.New("sandbox: hook or route not exported by the plugin")
	// ErrBadScript: the script does not define globalThis.__pilcrow.default as
	// an object of hooks and routes.
	ErrBadScript = errors.New("sandbox: script does not define a plugin")
	// ErrUnsettled: the plugin returned a promise that can never settle (no
	// host call is pending that could resolve it).
	ErrUnsettled = errors.New("sandbox: the plugin's promise never settled")
	// ErrBadValue: a value cannot cross the sandbox boundary (cyclic, too
	// deeply nested, a BigInt).
	ErrBadValue = errors.New("sandbox: value cannot cross the sandbox boundary")
	// ErrDenied: a host call the invocation's grants do not allow.
	ErrDenied = errors.New("sandbox: host call not granted")
	// ErrWorkerCrashed: the worker process died or misbehaved for a reason
	// that is not a limit.
	ErrWorkerCrashed = errors.New("sandbox: worker crashed")
	// ErrWorkerFault: the invocation could not run because of the sandbox,
	// not the plugin — its worker crashed or was killed from outside, once
	// more on a fresh worker (or the first run had side effects), or no
	// worker could start. Retrying later may succeed: servers answer 503
	// with Retry-After. Such errors also match ErrWorkerCrashed when a
	// worker died.
	ErrWorkerFault = errors.New("sandbox: worker fault")
	// ErrInvalidInvocation: the caller passed an invocation that cannot run.
	ErrInvalidInvocation = errors.New("sandbox: invalid invocation")
	// ErrPoolClosed: Invoke or Inspect after Close.
	ErrPoolClosed = errors.New("sandbox: pool closed")
)

// Names of limits reported in LimitError.Limit.
const (
	LimitCPU         = "cpu"
	LimitWall        = "wall"
	LimitMemory      = "memory"
	LimitSubrequests = "subrequests"
	LimitLog         = "log"
	LimitResult      = "result"
	LimitRequest     = "request"
	LimitResponse    = "response"
	LimitStack       = "stack"
	LimitHostCalls   = "hostcalls"
)

// LimitError reports that an invocation exceeded one of its limits.
type LimitError struct {
	Limit string `json:"limit"` // one of the Limit* names
	Value string `json:"value"` // the limit as configured, e.g. "50 ms"
}

func (e *LimitError) Error() string {
	if e.Value == "" {
		return "limit exceeded: " + e.Limit
	}
	return fmt.Sprintf("limit exceeded: %s (%s)", e.Limit, e.Value)
}

// Is makes errors.Is(err, ErrLimitExceeded) true for every LimitError.
func (e *LimitError) Is(target error) bool { return target == ErrLimitExceeded }

// ScriptError is an exception the plugin threw (or a syntax error in its
// script). Message is the plugin's own message, stringified under limits.
type ScriptError struct {
	Name    string `json:"name,omitempty"` // "Error", "TypeError", … empty for non-Error values
	Message string `json:"message"`
	Stack   string `json:"stack,omitempty"`
}

func (e *ScriptError) Error() string {
	if e.Name == "" || e.Name == "Error" {
		return e.Message
	}
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}

// limit constructors keep the formatting of Value in one place.
func cpuLimit(d time.Duration) *LimitError  { return &LimitError{LimitCPU, fmtDuration(d)} }
func wallLimit(d time.Duration) *LimitError { return &LimitError{LimitWall, fmtDuration(d)} }
func memoryLimit(n int64) *LimitError       { return &LimitError{LimitMemory, fmtBytes(n)} }
func bytesLimit(name string, n int) *LimitError {
	return &LimitError{name, fmtBytes(int64(n))}
}
func countLimit(name string, n int) *LimitError { return &LimitError{name, fmt.Sprint(n)} }
func stackLimit(frames int) *LimitError {
	if frames <= 0 {
		return &LimitError{Limit: LimitStack}
	}
	return &LimitError{LimitStack, fmt.Sprintf("%d frames", frames)}
}

func fmtDuration(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.3g ms", float64(d)/float64(time.Millisecond))
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
