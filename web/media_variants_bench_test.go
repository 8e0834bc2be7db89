package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// Image variants over HTTP on loopback: the first request for a variant
// (decode, resize, encode, store) against a cached one (read from the blob
// store), side by side on the same image.
//
//	go test ./web/ -run '^$' -bench 'BenchmarkImageVariant' -benchtime 20x
//
// The original is a 1600×1200 JPEG photo-like gradient; the variant is
// ?w=400 (a 400×300 JPEG).
func BenchmarkImageVariant(b *testing.B) {
	for _, store := range []string{"local", "s3"} {
		b.Run(store, func(b *testing.B) {
			ms := benchSite(b, store)
			token := ms.bearerToken(b, cms.RoleEditor)
			img := image.NewRGBA(image.Rect(0, 0, 1600, 1200))
			for y := range 1200 {
				for x := range 1600 {
					img.Set(x, y, color.RGBA{R: uint8(x / 7), G: uint8(y / 5), B: uint8((x * y) % 251), A: 255})
				}
			}
			var src bytes.Buffer
			if err := jpeg.Encode(&src, img, &jpeg.Options{Quality: 85}); err != nil {
				b.Fatal(err)
			}
			body, ctype := multipartBody(b, filePart("photo.jpg", "image/jpeg", src.Bytes()))
			req, _ := http.NewRequest("POST", ms.URL+"/api/media", body)
			req.Header.Set("Content-Type", ctype)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != http.StatusCreated {
				b.Fatalf("upload: %v %v", err, res)
			}
			var m struct{ ID, URL string }
			_ = json.NewDecoder(res.Body).Decode(&m)
			res.Body.Close()
			media, err := ms.Media.Get(context.Background(), m.ID)
			if err != nil {
				b.Fatal(err)
			}
			spec := cms.VariantSpec{W: 400}
			key := cms.VariantKey(media, spec)
			get := func(b *testing.B) {
				res, err := http.Get(ms.URL + m.URL + "?w=400")
				if err != nil || res.StatusCode != http.StatusOK {
					b.Fatalf("variant: %v %v", err, res)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			b.Run("first", func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					if err := ms.Media.Store().Delete(context.Background(), key); err != nil {
						b.Fatal(err)
					}
					if _, err := ms.DB.Write().Exec(`DELETE FROM media_variants WHERE storage_key = ?`, key); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					get(b)
				}
			})
			b.Run("cached", func(b *testing.B) {
				get(b)
				for b.Loop() {
					get(b)
				}
			})
		})
	}
}
