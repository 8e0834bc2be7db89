package cms

import (
	"fmt"
	"image"
	_ "image/gif"  // register the GIF config decoder
	_ "image/jpeg" // register the JPEG config decoder
	_ "image/png"  // register the PNG config decoder
	"io"
	"mime"
	"path"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"
	_ "golang.org/x/image/webp" // register the WebP config decoder
)

// sniffLen is how many leading bytes type detection looks at (mimetype's
// default read limit).
const sniffLen = 3072

// mediaType is one accepted kind of file.
type mediaType struct {
	exts []string // filename extensions that claim this type; the first is canonical
	// dims reads pixel dimensions from the start of the file; nil for non-images.
	dims func(io.Reader) (int, int, error)
}

func stdImageDims(r io.Reader) (int, int, error) {
	c, _, err := image.DecodeConfig(r)
	return c.Width, c.Height, err
}

// acceptedTypes is the upload allowlist, keyed by the MIME type served. The
// type comes from the bytes, never from the client. SVG is deliberately
// absent: it is a script-capable document format, and an uploaded SVG served
// from the site's origin could run script as the site.
var acceptedTypes = map[string]mediaType{
	"image/jpeg":      {exts: []string{".jpg", ".jpeg", ".jpe", ".jfif"}, dims: stdImageDims},
	"image/png":       {exts: []string{".png", ".apng"}, dims: stdImageDims},
	"image/gif":       {exts: []string{".gif"}, dims: stdImageDims},
	"image/webp":      {exts: []string{".webp"}, dims: stdImageDims},
	"image/avif":      {exts: []string{".avif"}, dims: avifDims},
	"application/pdf": {exts: []string{".pdf"}},
	"video/mp4":       {exts: []string{".mp4", ".m4v"}},
	"video/webm":      {exts: []string{".webm"}},
	"audio/mpeg":      {exts: []string{".mp3"}},
}

// sniffedAliases maps detector results to the served type (an animated PNG
// is a PNG to every browser).
var sniffedAliases = map[string]string{"image/apng": "image/png", "image/vnd.mozilla.apng": "image/png"}

// declaredAliases are other names clients use for accepted types.
var declaredAliases = map[string]string{
	"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png", "image/apng": "image/png",
	"audio/mp3": "audio/mpeg", "audio/x-mpeg": "audio/mpeg", "audio/mpeg3": "audio/mpeg", "application/x-pdf": "application/pdf",
	"video/x-m4v": "video/mp4",
}

// refusedReasons explain the refusals users most often meet.
var refusedReasons = map[string]string{
	"image/svg+xml": "SVG images can carry script and are not accepted; export the image as PNG, WebP or AVIF",
	"text/html":     "HTML documents are not accepted as media",
	"text/xml":      "XML documents are not accepted as media",
}

// AcceptedMediaTypes lists the MIME types uploads may have, sorted.
func AcceptedMediaTypes() []string {
	out := make([]string, 0, len(acceptedTypes))
	for t := range acceptedTypes {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// MediaTypeError says why an upload's type was refused.
type MediaTypeError struct {
	Detected string // from the bytes
	Declared string // the client's claim, if any
	Reason   string
}

func (e *MediaTypeError) Error() string { return e.Reason }

// Is makes a MediaTypeError match ErrUnsupportedMedia.
func (e *MediaTypeError) Is(target error) bool { return target == ErrUnsupportedMedia }

// classify decides the served type of an upload from its first bytes, and
// refuses it when the bytes are not on the allowlist or disagree with the
// declared Content-Type or the filename's extension.
func classify(head []byte, declared, filename string) (string, error) {
	m := mimetype.Detect(head)
	detected, _, _ := strings.Cut(m.String(), ";")
	served := detected
	if a, ok := sniffedAliases[detected]; ok {
		served = a
	}
	if _, ok := acceptedTypes[served]; !ok {
		reason, known := refusedReasons[detected]
		if !known {
			what := detected
			if len(head) == 0 {
				what = "empty"
			}
			reason = fmt.Sprintf("the file's content is %s, which is not an accepted media type; accepted: %s",
				what, strings.Join(AcceptedMediaTypes(), ", "))
		}
		return "", &MediaTypeError{Detected: detected, Declared: declared, Reason: reason}
	}
	if d := normalizeDeclared(declared); d != "" && d != served && !m.Is(d) {
		return "", &MediaTypeError{Detected: served, Declared: declared,
			Reason: fmt.Sprintf("the file's content is %s but it was sent as %s; the declared type must match the bytes", served, d)}
	}
	if ext := strings.ToLower(path.Ext(filename)); ext != "" {
		if claimed := typeForExt(ext); claimed != "" && claimed != served {
			return "", &MediaTypeError{Detected: served, Declared: declared,
				Reason: fmt.Sprintf("the file's content is %s but its name ends in %s (%s); rename it or upload the right file", served, ext, claimed)}
		}
	}
	return served, nil
}

// normalizeDeclared returns the declared media type without parameters,
// lower-cased and de-aliased; "" when there is no meaningful claim.
func normalizeDeclared(declared string) string {
	if strings.TrimSpace(declared) == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(declared)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(declared))
	}
	if mt == "application/octet-stream" || mt == "binary/octet-stream" {
		return "" // "some bytes": browsers send this when they do not know
	}
	if a, ok := declaredAliases[mt]; ok {
		return a
	}
	return mt
}

func typeForExt(ext string) string {
	for t, mt := range acceptedTypes {
		for _, e := range mt.exts {
			if e == ext {
				return t
			}
		}
	}
	return ""
}

const (
	maxFilenameLen = 200
	maxAltLen      = 1000
	maxTitleLen    = 300
)

// cleanFilename keeps the last path element of a client-supplied name, without
// control characters, and at most maxFilenameLen bytes.
func cleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' {
			return -1
		}
		return r
	}, name)
	name = strings.Trim(name, " .")
	for len(name) > maxFilenameLen {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

// validateMediaText trims s and records a problem at p when it is too long or
// holds control characters.
func validateMediaText(v *ValidationError, p, s string, max int) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		v.Add(p, "must be valid UTF-8")
		return s
	}
	if utf8.RuneCountInString(s) > max {
		v.Add(p, fmt.Sprintf("must be at most %d characters", max))
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		v.Add(p, "must not contain control characters")
	}
	return s
}
