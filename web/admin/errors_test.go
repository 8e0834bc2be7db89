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
