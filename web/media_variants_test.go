package web_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	_ "image/jpeg"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// patternPNG is a w×h image with a left half red and a right half blue, so a
// centred cover crop can be told from a squeeze.
func patternPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: 255, A: 255}
			if x >= w/2 {
				c = color.RGBA{B: 255, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bombPNG is a valid 1×1 PNG whose header then claims w×h pixels: tiny on
// disk, gigabytes if decoded.
func bombPNG(t testing.TB, w, h uint32) []byte {
	t.Helper()
	b := patternPNG(t, 1, 1)
	// IHDR data starts at byte 16 (8 signature + 4 length + 4 type).
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func decodeImage(t *testing.T, res *response) (image.Image, string) {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatalf("%s: decode: %v (Content-Type %s)", res.req, err, res.Header.Get("Content-Type"))
	}
	return img, format
}

func TestImageVariants(t *testing.T) {
	t.Run("local", func(t *testing.T) { testImageVariants(t, newMediaSite(t)) })
	t.Run("s3", func(t *testing.T) {
		ms, _ := s3Site(t, startGateway(t), cms.DeliverRedirect, 0)
		testImageVariants(t, ms)
	})
}

func testImageVariants(t *testing.T, ms *mediaSite) {
	ctx := context.Background()
	editor := ms.as(cms.RoleEditor)
	orig := patternPNG(t, 400, 300)
	m := editor.mustUpload(filePart("pattern.png", "image/png", orig))
	anon := ms.anon()

	for _, tc := range []struct {
		query        string
		w, h         int
		format       string
		redLeft      bool // the left edge is red, the right edge blue
		wantVariants int  // rows in media_variants after the request
	}{
		{"?w=100", 100, 75, "png", true, 1},
		{"?h=30", 40, 30, "png", true, 2},
		{"?w=100&h=100", 100, 75, "png", true, 3},
		{"?w=100&h=100&fit=cover", 100, 100, "png", true, 4},
		{"?w=100&format=jpeg", 100, 75, "jpeg", true, 5},
		{"?w=1000", 400, 300, "png", true, 6}, // never enlarged
		{"?w=100", 100, 75, "png", true, 6},   // cached: no new variant
	} {
		res := anon.do("GET", m.URL+tc.query, nil).want(http.StatusOK)
		img, format := decodeImage(t, res)
		if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h || format != tc.format {
			t.Errorf("%s: %dx%d %s, want %dx%d %s", tc.query, b.Dx(), b.Dy(), format, tc.w, tc.h, tc.format)
		}
		if ct := res.Header.Get("Content-Type"); ct != "image/"+tc.format {
			t.Errorf("%s: Content-Type %s", tc.query, ct)
		}
		r, _, _, _ := img.At(0, img.Bounds().Dy()/2).RGBA()
		_, _, bl, _ := img.At(img.Bounds().Dx()-1, img.Bounds().Dy()/2).RGBA()
		if tc.redLeft && (r < 0xc000 || bl < 0xc000) {
			t.Errorf("%s: edges are not red then blue: the image was not scaled whole or cropped centrally", tc.query)
		}
		var n int
		if err := ms.DB.Read().QueryRow(`SELECT count(*) FROM media_variants WHERE media_id = ?`, m.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != tc.wantVariants {
			t.Errorf("%s: %d variants stored, want %d", tc.query, n, tc.wantVariants)
		}
		// ETag and 304, answered from the tag alone.
		tag := res.Header.Get("ETag")
		if tag == "" || tag == `"`+m.SHA256+`"` {
			t.Errorf("%s: ETag %q: want one of its own", tc.query, tag)
		}
		anon.do("GET", m.URL+tc.query, nil, header("If-None-Match: "+tag)).want(http.StatusNotModified)
	}

	// The cached bytes are what the first request sent.
	first := anon.do("GET", m.URL+"?w=100&h=100&fit=cover", nil).want(http.StatusOK).Body
	lib, _ := ms.Media.Get(ctx, m.ID)
	key := cms.VariantKey(lib, cms.VariantSpec{W: 100, H: 100, Fit: "cover"})
	f, err := ms.Media.Store().Open(ctx, key)
	if err != nil {
		t.Fatalf("variant %s not in the blob store: %v", key, err)
	}
	var stored bytes.Buffer
	_, _ = stored.ReadFrom(f)
	f.Close()
	if !bytes.Equal(stored.Bytes(), first) {
		t.Error("the served variant differs from the cached one")
	}

	// The original is untouched.
	of, err := ms.Media.Store().Open(ctx, lib.StorageKey)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	_, _ = got.ReadFrom(of)
	of.Close()
	if !bytes.Equal(got.Bytes(), orig) {
		t.Error("the original changed")
	}

	// Hostile and wrong input: clear 4xx, naming the parameter.
	for _, tc := range []struct {
		query, path string
	}{
		{"?w=0", "/query/w"},
		{"?w=5000", "/query/w"},
		{"?h=-3", "/query/h"},
		{"?w=abc", "/query/w"},
		{"?w=10&w=20", "/query/w"},
		{"?fit=cover", "/query/w"},
		{"?w=10&fit=cover", "/query/fit"},
		{"?w=10&fit=stretch", "/query/fit"},
		{"?w=10&format=gif", "/query/format"},
	} {
		p := anon.do("GET", m.URL+tc.query, nil).problem(http.StatusBadRequest)
		if !hasErrorAt(p, tc.path) {
			t.Errorf("%s: problem %+v, want an error at %s", tc.query, p, tc.path)
		}
	}

	// A decompression bomb is refused from its header, before decoding.
	bomb := editor.mustUpload(filePart("bomb.png", "image/png", bombPNG(t, 60000, 60000)))
	p := anon.do("GET", bomb.URL+"?w=100", nil).problem(http.StatusUnprocessableEntity)
	if !strings.Contains(p.Detail, "60000×60000") {
		t.Errorf("bomb: %q", p.Detail)
	}
	// Not an image: 415.
	pdf := editor.mustUpload(filePart("doc.pdf", "application/pdf", []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")))
	anon.do("GET", pdf.URL+"?w=100", nil).problem(http.StatusUnsupportedMediaType)

	// Deleting the original deletes its variants.
	editor.do("DELETE", "/api/media/"+m.ID, nil).want(http.StatusNoContent)
	if _, err := ms.Media.Store().Stat(ctx, key); err == nil {
		t.Errorf("variant %s still stored after its original was deleted", key)
	}
}
