package admin

import (
	"io"
	"net/http"

	"github.com/pilcrow-cms/pilcrow/web/markdown"
)

// maxPreviewBytes bounds the Markdown a preview request may send.
const maxPreviewBytes = 1 << 20

// handleAdminPreview renders the editor's Markdown preview. The script posts
// the textarea's text with the session's X-CSRF-Token.
func (s *UI) handleAdminPreview(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPreviewBytes))
	if err != nil {
		http.Error(w, "the text is too long to preview (1 MiB at most)", http.StatusRequestEntityTooLarge)
		return
	}
	out, err := markdown.Render(body)
	if err != nil {
		http.Error(w, "the preview could not be rendered", http.StatusUnprocessableEntity)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
}
