package sandbox

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// TestRawPipe: frames larger than the pipe's buffer arrive whole (the
// writer waits in the netpoller when the pipe is full), a read deadline
// set on the file still interrupts a raw read, and a closed writer is EOF.
func TestRawPipe(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pr, pw := newRawPipe(r), newRawPipe(w)
	if _, ok := pr.(*rawPipe); !ok {
		t.Fatalf("newRawPipe(%T) fell back to the file", r)
	}

	if err := r.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Read(make([]byte, 16)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	_ = r.SetReadDeadline(time.Time{})

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB, 64 pipe buffers
	done := make(chan error, 1)
	go func() {
		fw := &frameWriter{w: pw}
		err := fw.write(frameDone, big)
		_ = w.Close()
		done <- err
	}()
	fr := &frameReader{r: pr, max: 8 << 20}
	typ, p, err := fr.next()
	if err != nil || typ != frameDone || !bytes.Equal(p, big) {
		t.Fatalf("frame: type %q, %d bytes, %v", typ, len(p), err)
	}
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}
	if n, err := pr.Read(make([]byte, 16)); n != 0 || err != io.EOF {
		t.Fatalf("after the writer closed: %d, %v", n, err)
	}
}
