package emdash_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash/emdashtest"
)

// BenchmarkConvert is the cost an EmDash bundle adds to an install: reading
// the .tar.gz, translating the manifest and bundling backend.js behind the
// adapter. BenchmarkReadZip reads the resulting .zip, which every install
// does anyway; docs/performance.md records the ratio.
func BenchmarkConvert(b *testing.B) {
	tgz := emdashtest.Notes(b)
	for b.Loop() {
		if _, _, err := emdash.Convert(context.Background(), tgz); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadZip(b *testing.B) {
	zipped, _, err := emdash.Convert(context.Background(), emdashtest.Notes(b))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := bundle.Read(bytes.NewReader(zipped), int64(len(zipped))); err != nil {
			b.Fatal(err)
		}
	}
}
