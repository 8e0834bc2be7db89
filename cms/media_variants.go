package cms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net/url"
	"strconv"

	"golang.org/x/image/draw"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// Limits of image variants.
const (
	// MaxVariantSide bounds a variant's width and height (400 beyond).
	MaxVariantSide = 4096
	// MaxVariantSourcePixels is the largest original a variant is made from.
	// It is checked from the file's header before any pixel is decoded, so a
	// small file claiming enormous dimensions (a decompression bomb) costs a
	// header read, not gigabytes of memory: 40 MP decode to 160 MB of RGBA.
	MaxVariantSourcePixels = 40_000_000
	// variantJPEGQuality is the JPEG encoder's quality for variants.
	variantJPEGQuality = 82
)

// ErrVariantSourceTooLarge: the original has more pixels than variants are
// made from. The web layer answers 422.
var ErrVariantSourceTooLarge = errors.New("image is too large to make variants from")

// VariantSpec asks for a resized copy of an image: ?w=&h=&fit=&format=.
type VariantSpec struct {
	// W and H bound the output in pixels; 0 means "follow the aspect ratio".
	W, H int
	// Fit, when both W and H are given: "contain" (the default) fits the
	// whole image inside W×H; "cover" fills W×H exactly, cropping the centre.
	Fit string
	// Format is "jpeg" or "png"; empty keeps JPEG as JPEG and makes PNG of
	// everything else.
	Format string
}

// IsVariantQuery reports whether q asks for a variant rather than the original.
func IsVariantQuery(q url.Values) bool {
	return q.Has("w") || q.Has("h") || q.Has("fit") || q.Has("format")
}

// ParseVariantSpec reads a variant request. Every problem is reported under
// /query/<param>.
func ParseVariantSpec(q url.Values) (VariantSpec, error) {
	var v ValidationError
	var s VariantSpec
	side := func(name string) int {
		raw := q.Get(name)
		if raw == "" {
			return 0
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > MaxVariantSide || len(q[name]) > 1 {
			v.Add("/query/"+name, fmt.Sprintf("must be given once, a whole number of pixels from 1 to %d", MaxVariantSide))
			return 0
		}
		return n
	}
	s.W, s.H = side("w"), side("h")
	if s.W == 0 && s.H == 0 && !v.has("/query/w") && !v.has("/query/h") {
		v.Add("/query/w", "w or h is required for an image variant")
	}
	switch f := q.Get("fit"); f {
	case "", "contain":
		s.Fit = "contain"
	case "cover":
		s.Fit = "cover"
		if s.W == 0 || s.H == 0 {
			v.Add("/query/fit", "cover needs both w and h")
		}
	default:
		v.Add("/query/fit", fmt.Sprintf("must be cover or contain, got %q", f))
	}
	switch f := q.Get("format"); f {
	case "", "jpeg", "png":
		s.Format = f
	case "jpg":
		s.Format = "jpeg"
	default:
		v.Add("/query/format", fmt.Sprintf("must be jpeg or png, got %q", f))
	}
	return s, v.Err()
}

func (v *ValidationError) has(path string) bool {
	for _, e := range v.Errors {
		if e.Path == path {
			return true
		}
	}
	return false
}

// variantDecodable are the originals variants are made from (registered
// image decoders; AVIF has none in Go).
var variantDecodable = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// resolve fills in the spec's defaults for m.
func (s VariantSpec) resolve(m *Media) VariantSpec {
	if s.Format == "" {
		s.Format = "png"
		if m.MimeType == "image/jpeg" {
			s.Format = "jpeg"
		}
	}
	if s.W == 0 || s.H == 0 {
		s.Fit = "contain"
	}
	return s
}

// VariantKey is where the variant is cached in the blob store. The original's
// hash is part of it, so the name changes if the bytes ever do.
func VariantKey(m *Media, s VariantSpec) string {
	s = s.resolve(m)
	return fmt.Sprintf("variants/%s/%s-%dx%d-%s.%s", m.ID, m.SHA256[:16], s.W, s.H, s.Fit, s.Format)
}

// VariantETag is the variant's entity tag, known without reading anything.
func VariantETag(m *Media, s VariantSpec) string {
	s = s.resolve(m)
	return fmt.Sprintf(`"%s-%dx%d-%s-%s"`, m.SHA256[:16], s.W, s.H, s.Fit, s.Format)
}

// VariantContentType is the MIME type of the variant.
func VariantContentType(m *Media, s VariantSpec) string { return "image/" + s.resolve(m).Format }

// Variant returns the resized image, from the blob store's cache or made
// now (and cached). The original is only read.
func (l *MediaLibrary) Variant(ctx context.Context, m *Media, s VariantSpec) (storage.BlobReader, error) {
	if !variantDecodable[m.MimeType] {
		return nil, fmt.Errorf("%w: variants are made of JPEG, PNG, GIF and WebP images; this item is %s", ErrUnsupportedMedia, m.MimeType)
	}
	s = s.resolve(m)
	key := VariantKey(m, s)
	if r, err := l.store.Open(ctx, key); err == nil {
		return r, nil
	} else if !errors.Is(err, storage.ErrBlobNotFound) {
		return nil, err
	}
	// Decoding is memory-hungry: a few at a time. A request that waited may
	// find the variant made by the one it waited for.
	select {
	case l.variantSlots() <- struct{}{}:
		defer func() { <-l.variantSlots() }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r, err := l.store.Open(ctx, key); err == nil {
		return r, nil
	}
	out, err := l.makeVariant(ctx, m, s)
	if err != nil {
		return nil, err
	}
	info, err := l.store.Put(ctx, key, bytes.NewReader(out), storage.PutOptions{ContentType: "image/" + s.Format, Size: int64(len(out))})
	if err != nil {
		return nil, fmt.Errorf("store variant: %w", err)
	}
	if _, err := l.db.Write().ExecContext(ctx, `INSERT INTO media_variants (storage_key, media_id, size, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (storage_key) DO NOTHING`, key, m.ID, len(out), l.now().UTC().UnixMilli()); err != nil {
		// The original was deleted meanwhile (or the database is failing):
		// do not leave a variant nobody will delete.
		_ = l.store.Delete(context.WithoutCancel(ctx), key)
		return nil, fmt.Errorf("record variant: %w", err)
	}
	info.Key, info.ContentType = key, "image/"+s.Format
	return &memBlob{Reader: bytes.NewReader(out), info: info}, nil
}

func (l *MediaLibrary) makeVariant(ctx context.Context, m *Media, s VariantSpec) ([]byte, error) {
	f, err := l.store.Open(ctx, m.StorageKey)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%w: the image's header cannot be read: %v", ErrUnsupportedMedia, err)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > MaxVariantSourcePixels || cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: it is %d×%d pixels; variants are made of images up to %d pixels", ErrVariantSourceTooLarge, cfg.Width, cfg.Height, MaxVariantSourcePixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	src, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%w: the image cannot be decoded: %v", ErrUnsupportedMedia, err)
	}
	dst := resize(src, s)
	var buf bytes.Buffer
	if s.Format == "jpeg" {
		err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: variantJPEGQuality})
	} else {
		err = png.Encode(&buf, dst)
	}
	if err != nil {
		return nil, fmt.Errorf("encode variant: %w", err)
	}
	return buf.Bytes(), nil
}

// resize scales src into the spec's box. It never enlarges: a box bigger than
// the image gives the image's own size (cover still crops to the aspect).
func resize(src image.Image, s VariantSpec) image.Image {
	b := src.Bounds()
	sw, sh := float64(b.Dx()), float64(b.Dy())
	crop := b
	var dw, dh int
	if s.Fit == "cover" {
		// The largest centred box of the wanted aspect ratio.
		cw, ch := sw, sw*float64(s.H)/float64(s.W)
		if ch > sh {
			cw, ch = sh*float64(s.W)/float64(s.H), sh
		}
		x0 := b.Min.X + int((sw-cw)/2)
		y0 := b.Min.Y + int((sh-ch)/2)
		crop = image.Rect(x0, y0, x0+max(1, int(cw)), y0+max(1, int(ch)))
		dw, dh = min(s.W, crop.Dx()), min(s.H, crop.Dy())
		if dw*crop.Dy() != dh*crop.Dx() { // keep the aspect when capped
			scale := min(float64(dw)/float64(crop.Dx()), float64(dh)/float64(crop.Dy()))
			dw, dh = max(1, int(float64(crop.Dx())*scale+0.5)), max(1, int(float64(crop.Dy())*scale+0.5))
		}
	} else {
		scale := 1.0
		if s.W > 0 {
			scale = min(scale, float64(s.W)/sw)
		}
		if s.H > 0 {
			scale = min(scale, float64(s.H)/sh)
		}
		dw, dh = max(1, int(sw*scale+0.5)), max(1, int(sh*scale+0.5))
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	draw.BiLinear.Scale(dst, dst.Bounds(), src, crop, draw.Src, nil)
	return dst
}

// memBlob serves a variant just made from memory.
type memBlob struct {
	*bytes.Reader
	info storage.BlobInfo
}

func (b *memBlob) Close() error           { return nil }
func (b *memBlob) Info() storage.BlobInfo { return b.info }

// variantConcurrency is how many variants are made at once.
const variantConcurrency = 2

func (l *MediaLibrary) variantSlots() chan struct{} {
	l.variantOnce.Do(func() { l.variantSem = make(chan struct{}, variantConcurrency) })
	return l.variantSem
}

// variantKeys lists the stored variants of a media item.
func variantKeys(ctx context.Context, q querier, mediaID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT storage_key FROM media_variants WHERE media_id = ?`, mediaID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}
