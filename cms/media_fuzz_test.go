package cms_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// FuzzClassify: type detection never panics; an accepted upload's served
// type is on the allowlist, and declaring that type (or naming the file
// with its canonical extension) is accepted again with the same result.
// Refusals are MediaTypeErrors with a reason. Fuzz with
//
//	go test ./cms -run '^$' -fuzz FuzzClassify -fuzztime 30s
func FuzzClassify(f *testing.F) {
	f.Add(pngBytes(f, 3, 2), "image/png", "a.png")
	f.Add(pngBytes(f, 3, 2), "image/jpeg", "a.png")
	f.Add(pngBytes(f, 3, 2), "", "a.jpg")
	f.Add([]byte("%PDF-1.7\n%âãÏÓ\n"), "application/pdf", "doc.pdf")
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "image/png", "x.png")
	f.Add([]byte("<!doctype html><script>x</script>"), "text/html", "x.html")
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "image/gif; charset=x", "a.GIF")
	f.Add(avifBytes(9, 4), "image/avif", "")
	f.Add(webpBytes(9, 4), "image/webp", "a.webp")
	f.Add(mp4Bytes(), "video/mp4", "a.m4v")
	f.Add(mp3Bytes(), "audio/mp3", "a.mp3")
	f.Add(webmBytes(), "video/webm", "a.webm")
	f.Add([]byte{}, "", "")
	f.Fuzz(func(t *testing.T, head []byte, declared, filename string) {
		if len(head) > cms.SniffLenForTest {
			head = head[:cms.SniffLenForTest]
		}
		served, err := cms.ClassifyForTest(head, declared, filename)
		if err != nil {
			var te *cms.MediaTypeError
			if !errors.As(err, &te) || te.Reason == "" || !errors.Is(err, cms.ErrUnsupportedMedia) {
				t.Fatalf("refusal %v is not a MediaTypeError with a reason", err)
			}
			return
		}
		ext := cms.CanonicalExtForTest(served)
		if ext == "" {
			t.Fatalf("accepted as %q, which is not on the allowlist", served)
		}
		if again, err := cms.ClassifyForTest(head, served, filename); err != nil || again != served {
			t.Fatalf("declaring the served type %q: %q, %v", served, again, err)
		}
		if again, err := cms.ClassifyForTest(head, "", "file"+ext); err != nil || again != served {
			t.Fatalf("naming the file *%s: %q, %v", ext, again, err)
		}
	})
}

// FuzzImageDims: the dimension readers of every image type never panic on
// hostile bytes and report no negative size. Fuzz with
//
//	go test ./cms -run '^$' -fuzz FuzzImageDims -fuzztime 30s
func FuzzImageDims(f *testing.F) {
	f.Add(pngBytes(f, 7, 5))
	f.Add([]byte("GIF89a\x07\x00\x05\x00\x00\x00\x00;"))
	f.Add([]byte("\xff\xd8\xff\xc0\x00\x11\x08\x00\x05\x00\x07\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"))
	f.Add([]byte("RIFF\x1a\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x06\x00\x00\x04\x00\x00"))
	f.Add(avifBytes(7, 5))
	f.Add(webpBytes(7, 5))
	f.Add(jpegBytes(f, 7, 5))
	f.Add(gifBytes(f, 7, 5))
	f.Add([]byte("\x00\x00\x00\x01meta\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Add([]byte("\x00\x00\x00\x00ipco"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, dims := range cms.ImageDimsForTest() {
			w, h, err := dims(bytes.NewReader(data))
			if err == nil && (w < 0 || h < 0) {
				t.Fatalf("%s: dimensions %d×%d", name, w, h)
			}
		}
	})
}
