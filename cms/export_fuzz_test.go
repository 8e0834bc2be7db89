package cms

import "io"

// Internals the external fuzz tests drive directly.
var (
	ClassifyForTest = classify
	SniffLenForTest = sniffLen
)

// ImageDimsForTest are the dimension readers by served type.
func ImageDimsForTest() map[string]func(io.Reader) (int, int, error) {
	m := map[string]func(io.Reader) (int, int, error){}
	for k, t := range acceptedTypes {
		if t.dims != nil {
			m[k] = t.dims
		}
	}
	return m
}

// CanonicalExtForTest is the first extension of an accepted type, "" if none.
func CanonicalExtForTest(served string) string {
	if t, ok := acceptedTypes[served]; ok {
		return t.exts[0]
	}
	return ""
}
