//go:build !linux || !(amd64 || arm64)

package sandbox

import "os"

// The confined-worker probe needs the Linux seccomp filter.
const probeWorkerArg = "__probe-worker"

func runProbeWorker(string) { os.Exit(2) }
