package admin

import (
	"bytes"
	"io"
	"net/http"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// maxPreviewBytes bounds the Markdown a preview request may send.
const maxPreviewBytes = 1 << 20

var (
	previewOnce     sync.Once
	previewMarkdown goldmark.Markdown
	previewPolicy   *bluemonday.Policy
)

// renderMarkdown turns Markdown into HTML safe to insert into the admin page:
// goldmark renders (raw HTML is escaped by default) and bluemonday's UGC
// policy strips anything that could script, style or frame the page anyway.
func renderMarkdown(src []byte) ([]byte, error) {
	previewOnce.Do(func() {
		previewMarkdown = goldmark.New(goldmark.WithExtensions(extension.GFM))
		previewPolicy = bluemonday.UGCPolicy()
	})
	var buf bytes.Buffer
	if err := previewMarkdown.Convert(src, &buf); err != nil {
		return nil, err
	}
	return previewPolicy.SanitizeBytes(buf.Bytes()), nil
}

// handleAdminPreview renders the editor's Markdown preview. The script posts
// the textarea's text with the session's X-CSRF-Token.
func (s *UI) handleAdminPreview(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPreviewBytes))
	if err != nil {
		http.Error(w, "the text is too long to preview (1 MiB at most)", http.StatusRequestEntityTooLarge)
		return
	}
	out, err := renderMarkdown(body)
	if err != nil {
		http.Error(w, "the preview could not be rendered", http.StatusUnprocessableEntity)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
}
