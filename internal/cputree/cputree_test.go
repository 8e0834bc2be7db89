package cputree

import (
	"os"
	"os/exec"
	"testing"
)

func TestOfCountsBusyChildren(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	before := Self()
	// A child that burns CPU and is reaped: its time arrives through cstime/cutime.
	cmd := exec.Command("sh", "-c", `i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done`)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if got := Self() - before; got <= 0 {
		t.Fatalf("a reaped busy child added %v of CPU, want more than 0", got)
	}
	if _, err := Of(1 << 30); err == nil {
		t.Fatal("Of of a process that does not exist succeeded")
	}
}
