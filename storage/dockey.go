package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// Index keys: the value of one indexed field as bytes whose bytewise order
// (memcmp: BLOB comparison in SQLite, bytea in PostgreSQL) is the order of
// the values. A type tag comes first, so values of different types never
// compare equal and sort by type: null (and absent), false, true, numbers,
// strings. Numbers are IEEE 754 doubles (JSON numbers are what JavaScript
// has) with the sign bit flipped, or every bit for negatives, so they sort
// numerically; strings are their UTF-8 bytes, which sort by code point.
const (
	tagNull   byte = 0x01
	tagFalse  byte = 0x02
	tagTrue   byte = 0x03
	tagNumber byte = 0x04
	tagString byte = 0x05
	// tagEnd bounds the string range from above: no key starts with it.
	tagEnd byte = 0x06
)

// MaxIndexedValueBytes bounds one indexed string (in UTF-8 bytes). Four such
// keys and a document id stay below PostgreSQL's B-tree row limit (~2.7 KB).
const MaxIndexedValueBytes = 512

var nullKey = []byte{tagNull}

func numberKey(f float64) []byte {
	if f == 0 {
		f = 0 // -0 and 0 are one value
	}
	bits := math.Float64bits(f)
	if f >= 0 {
		bits ^= 1 << 63
	} else {
		bits = ^bits
	}
	k := make([]byte, 9)
	k[0] = tagNumber
	binary.BigEndian.PutUint64(k[1:], bits)
	return k
}

func stringKey(s string) []byte {
	k := make([]byte, 1+len(s))
	k[0] = tagString
	copy(k[1:], s)
	return k
}

func boolKey(b bool) []byte {
	if b {
		return []byte{tagTrue}
	}
	return []byte{tagFalse}
}

// scalar is a JSON scalar decoded for indexing: one of nil, bool, float64,
// string.
type scalar = any

// decodeScalar decodes one JSON value that must be a scalar; ok is false for
// objects and arrays.
func decodeScalar(raw json.RawMessage) (v scalar, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, true, nil
	}
	switch raw[0] {
	case '{', '[':
		return nil, false, nil
	case 'n':
		return nil, true, nil
	case 't':
		return true, true, nil
	case 'f':
		return false, true, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, true, err
		}
		return s, true, nil
	default:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, true, invalid("number %s is out of range", truncateText(string(raw), 40))
		}
		return f, true, nil
	}
}

// scalarKey encodes v; v must come from decodeScalar or a query value.
func scalarKey(v scalar) []byte {
	switch v := v.(type) {
	case nil:
		return nullKey
	case bool:
		return boolKey(v)
	case float64:
		return numberKey(v)
	case string:
		return stringKey(v)
	}
	return nullKey
}

// describeKey renders a key for error messages, as the JSON value it holds.
func describeKey(k []byte) string {
	if len(k) == 0 {
		return "null"
	}
	switch k[0] {
	case tagFalse:
		return "false"
	case tagTrue:
		return "true"
	case tagNumber:
		if len(k) != 9 {
			return "?"
		}
		bits := binary.BigEndian.Uint64(k[1:])
		if bits&(1<<63) != 0 {
			bits ^= 1 << 63
		} else {
			bits = ^bits
		}
		return strconv.FormatFloat(math.Float64frombits(bits), 'g', -1, 64)
	case tagString:
		return strconv.Quote(truncateText(string(k[1:]), 80))
	}
	return "null"
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
