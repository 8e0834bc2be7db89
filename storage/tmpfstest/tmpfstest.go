// Package tmpfstest gives tests a small filesystem of their own, to fill up:
// a tmpfs mounted under the test's temp folder. Mounting needs root, which CI
// has; with CI set a test that cannot mount fails instead of skipping.
package tmpfstest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size (as mount(8) takes it: "2m") on a fresh folder
// and unmounts it when the test ends.
func Mount(t testing.TB, size string) string {
	t.Helper()
	why := ""
	switch {
	case runtime.GOOS != "linux":
		why = "tmpfs mounts need Linux"
	case os.Geteuid() != 0:
		why = "mounting a tmpfs needs root"
	}
	if why == "" {
		if _, err := exec.LookPath("mount"); err != nil {
			why = "mount(8) not found"
		}
	}
	if why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI runs as root on Linux)", why)
		}
		t.Skip(why)
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
	}
	// Registered after TempDir's own cleanup, so it runs first: the folder
	// is unmounted before it is removed.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Fill writes a file at path until the filesystem refuses with ENOSPC, and
// returns how many bytes it took. Removing path frees them again.
func Fill(t testing.TB, path string) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatalf("fill: %v", err)
	}
	defer f.Close()
	var total int64
	buf := make([]byte, 64<<10)
	for size := len(buf); size > 0; {
		n, err := f.Write(buf[:size])
		total += int64(n)
		switch {
		case err == nil:
		case errors.Is(err, syscall.ENOSPC):
			// Finish the last partial page with smaller writes.
			size /= 2
		default:
			t.Fatalf("fill: %v", err)
		}
	}
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("fill: sync: %v", err)
	}
	if total == 0 {
		t.Logf("fill: %s was already full", filepath.Dir(path))
	}
	return total
}
