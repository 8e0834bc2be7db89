package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// locate returns the 1-based line and column (in characters) where the value
// at the JSON pointer ptr starts in data, or of its deepest existing ancestor
// when the value itself is absent (so "add it here" points somewhere useful).
// The manifest package positions its own problems; the CLI needs this for
// the problems only it finds: hooks and routes the code does not export.
func locate(data []byte, ptr string) (line, col int) {
	var tokens []string
	if ptr != "" {
		for _, t := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			tokens = append(tokens, strings.NewReplacer("~1", "/", "~0", "~").Replace(t))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	off := walkTo(dec, data, tokens)
	if off < 0 {
		return 0, 0
	}
	return lineCol(data, off)
}

// walkTo reads one value from dec and returns the offset where it (or the
// value at tokens inside it) starts; -1 when the JSON is malformed.
func walkTo(dec *json.Decoder, data []byte, tokens []string) int {
	start := valueStart(data, int(dec.InputOffset()))
	if len(tokens) == 0 {
		return start
	}
	tok, err := dec.Token()
	if err != nil {
		return -1
	}
	delim, ok := tok.(json.Delim)
	if !ok || (delim != '{' && delim != '[') {
		return start
	}
	for i := 0; dec.More(); i++ {
		match := false
		if delim == '{' {
			key, err := dec.Token()
			if err != nil {
				return -1
			}
			match = key == tokens[0]
		} else {
			match = strconv.Itoa(i) == tokens[0]
		}
		if match {
			return walkTo(dec, data, tokens[1:])
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return -1
		}
	}
	return start
}

// valueStart skips the separators the decoder's offset may still point at.
func valueStart(data []byte, off int) int {
	for off < len(data) && strings.IndexByte(" \t\r\n:,", data[off]) >= 0 {
		off++
	}
	return off
}

func lineCol(data []byte, off int) (int, int) {
	off = min(off, len(data))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	lineStart := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, 1 + utf8.RuneCount(data[lineStart:off])
}
