package main

import (
	"flag"
	"testing"
)

func TestLocate(t *testing.T) {
	const doc = "{\n  \"id\": \"x\",\n  \"hooks\": [\"a\", {\"name\": \"b\"}],\n  \"ünï\": {\"a/b\": 1, \"t~x\": [true]}\n}\n"
	tests := []struct {
		ptr       string
		line, col int
	}{
		{"", 1, 1},
		{"/id", 2, 9},
		{"/hooks", 3, 12},
		{"/hooks/0", 3, 13},
		{"/hooks/1", 3, 18},
		{"/hooks/1/name", 3, 27},
		{"/hooks/7", 3, 12},    // absent: its parent
		{"/routes", 1, 1},      // absent: the document
		{"/ünï/a~1b", 4, 18},   // escaped "/", columns in characters
		{"/ünï/t~0x/0", 4, 29}, // escaped "~"
		{"/id/deeper", 2, 9},   // through a scalar: the scalar
	}
	for _, tt := range tests {
		line, col := locate([]byte(doc), tt.ptr)
		if line != tt.line || col != tt.col {
			t.Errorf("locate(%q) = %d:%d, want %d:%d", tt.ptr, line, col, tt.line, tt.col)
		}
	}
	if line, col := locate([]byte(`{"a": [1, `), "/a/5"); line != 0 || col != 0 {
		t.Errorf("malformed JSON located at %d:%d, want 0:0", line, col)
	}
}

func TestParseArgsAcceptsFlagsAnywhere(t *testing.T) {
	for _, args := range [][]string{
		{"dir", "--hook", "h", "--deny", "a", "--deny", "b"},
		{"--hook", "h", "dir", "--deny", "a", "--deny", "b"},
		{"--deny", "a", "--hook", "h", "--deny", "b", "--", "dir"},
	} {
		var o runOptions
		fs := newTestFlagSet(&o)
		pos, code := parseArgs(fs, args, discard{}, 1)
		if code != -1 || len(pos) != 1 || pos[0] != "dir" || o.hook != "h" || o.deny.String() != "a,b" {
			t.Errorf("parseArgs(%q) = %q, %d; hook %q deny %q", args, pos, code, o.hook, o.deny.String())
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func newTestFlagSet(o *runOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.StringVar(&o.hook, "hook", "", "")
	fs.Var(&o.deny, "deny", "")
	return fs
}
