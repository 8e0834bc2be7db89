package sandbox

import (
	"bufio"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// echoWorkerArg starts a peer that echoes every frame it reads: the
// round trip of BenchmarkPipeRoundTrip without an isolate.
const echoWorkerArg = "__echo-worker"

func runEchoWorker() {
	in, out := int(os.Stdin.Fd()), int(os.Stdout.Fd())
	_ = syscall.SetNonblock(in, true)
	_ = syscall.SetNonblock(out, true)
	fr := &frameReader{r: bufio.NewReaderSize(newRawPipe(os.NewFile(uintptr(in), "in")), 64<<10), max: 1 << 20}
	fw := &frameWriter{w: newRawPipe(os.NewFile(uintptr(out), "out"))}
	for {
		typ, p, err := fr.next()
		if err != nil {
			os.Exit(0)
		}
		if err := fw.write(typ, p); err != nil {
			os.Exit(1)
		}
	}
}

// BenchmarkPipeRoundTrip is the floor under BenchmarkInvokeTrivial's round
// trip: a task-sized frame to another process and a done-sized frame back,
// through the same pipes, frame code and Go scheduler wake-ups as a worker,
// with nothing run in between. Its cpu-ns/op is what two processes' sleeps
// and wake-ups cost on this machine.
func BenchmarkPipeRoundTrip(b *testing.B) {
	cmd := exec.Command(os.Args[0], echoWorkerArg)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	fw := &frameWriter{w: newRawPipe(stdin.(*os.File))}
	r := bufio.NewReaderSize(newRawPipe(stdout.(*os.File)), 64<<10)
	task := encodeTask(nil, newTask(benchLimits(trivialInvocation()), DefaultLimits))
	trip := func() {
		if err := fw.write(frameInvoke, task); err != nil {
			b.Fatal(err)
		}
		if _, _, err := readFrame(r, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
	trip()
	b.ReportAllocs()
	b.ResetTimer()
	done := cpuPerOp(b)
	for b.Loop() {
		trip()
	}
	done()
}
