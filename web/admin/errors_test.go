package admin

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"syscall"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
)

func TestAdminErrorStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{&cms.HookRejection{Plugin: "p", Message: "no"}, http.StatusUnprocessableEntity},
		{fmt.Errorf("get: %w", cms.ErrNotFound), http.StatusNotFound},
		{cms.ErrForbidden, http.StatusForbidden},
		{cms.ErrConflict, http.StatusConflict},
		// A broken worker is the sandbox's, not the plugin's verdict: retry.
		{fmt.Errorf("save: %w", sandbox.ErrWorkerFault), http.StatusServiceUnavailable},
		// A full disk is the operator's to fix; the page says so.
		{fmt.Errorf("save: %w", storage.ErrDiskFull), http.StatusInsufficientStorage},
		{fmt.Errorf("upload: %w", &fs.PathError{Op: "write", Path: "m", Err: syscall.ENOSPC}), http.StatusInsufficientStorage},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		if got, msg := adminErrorStatus(tt.err); got != tt.want || msg == "" {
			t.Errorf("%v: %d %q, want %d", tt.err, got, msg, tt.want)
		}
	}
}

// A page shows the domain's own sentence, never what wrapped it or the
// sentinel's words.
func TestAdminErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("update entry: %w", &cms.Problem{Kind: cms.ErrForbidden, Msg: "you may change only the entries you wrote; this one is someone else's"}),
			"You may change only the entries you wrote; this one is someone else's."},
		{fmt.Errorf("change entry: %w", &cms.Problem{Kind: cms.ErrConflict, Msg: "the entry is not published"}), "The entry is not published."},
		{fmt.Errorf("get: %w", cms.ErrNotFound), "Not found."},
		{&cms.ValidationError{Errors: []cms.FieldError{{Path: "/data/title", Message: "is required"}}}, "Title is required."},
	}
	for _, tt := range tests {
		if _, msg := adminErrorStatus(tt.err); msg != tt.want {
			t.Errorf("%v: %q, want %q", tt.err, msg, tt.want)
		}
	}
}
