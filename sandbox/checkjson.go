package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// ErrBadInput: JSON bound for a worker breaks a rule the worker applies
// (nesting, number range, grammar). The server checks with CheckJSON before
// dispatch, so such input is the client's 400, never a failed or dead worker.
var ErrBadInput = errors.New("input a plugin cannot receive")

// CheckJSON applies the isolate's rules for incoming JSON to data: valid JSON,
// nested at most MaxJSONDepth levels, every number a finite double. The
// error names the rule and the byte offset.
func CheckJSON(data []byte) error {
	// The scan tolerates invalid JSON (it only counts brackets outside
	// strings and reads number tokens), so it runs first: json.Valid gives
	// up on depth past its own limit with a less useful message.
	depth := 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case c == '{' || c == '[':
			if depth++; depth > MaxJSONDepth {
				return badInput("nested deeper than %d levels (at byte %d)", MaxJSONDepth, i)
			}
		case c == '}' || c == ']':
			depth--
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(data) && isNumberByte(data[j]) {
				j++
			}
			if f, err := strconv.ParseFloat(string(data[i:j]), 64); err != nil && errors.Is(err, strconv.ErrRange) && (f > 1 || f < -1) {
				return badInput("number %.40s at byte %d is out of range (plugin numbers are doubles, at most about 1.8e308)", data[i:j], i)
			}
			i = j - 1
		}
	}
	if !json.Valid(data) {
		return badInput("not valid JSON")
	}
	return nil
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// inputError is an ErrBadInput whose message is the rule alone, ready for a
// client's problem detail.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }
func (e *inputError) Unwrap() error { return ErrBadInput }

func badInput(format string, args ...any) error { return &inputError{fmt.Sprintf(format, args...)} }
