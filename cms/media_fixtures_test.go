package cms_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

// Small but real files of each accepted type, built in code so the tests
// carry no binary fixtures.

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White}), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpBytes is a lossless (VP8L) WebP header: enough for type detection and
// image.DecodeConfig.
func webpBytes(w, h int) []byte {
	vp8l := []byte{0x2f}
	bits := uint32(w-1) | uint32(h-1)<<14
	vp8l = binary.LittleEndian.AppendUint32(vp8l, bits)
	vp8l = append(vp8l, make([]byte, 16)...)
	chunk := append([]byte("VP8L"), binary.LittleEndian.AppendUint32(nil, uint32(len(vp8l)))...)
	chunk = append(chunk, vp8l...)
	body := append([]byte("WEBP"), chunk...)
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	return append(out, body...)
}

func box(typ string, payload ...[]byte) []byte {
	var p []byte
	for _, x := range payload {
		p = append(p, x...)
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(8+len(p)))
	return append(append(out, typ...), p...)
}

// avifBytes is the box skeleton of an AVIF: ftyp, meta with an ispe property,
// and an mdat.
func avifBytes(w, h int) []byte {
	ispe := binary.BigEndian.AppendUint32(make([]byte, 4), uint32(w))
	ispe = binary.BigEndian.AppendUint32(ispe, uint32(h))
	hdlr := append(make([]byte, 8), []byte("pict\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")...)
	return append(append(
		box("ftyp", []byte("avif"), make([]byte, 4), []byte("avifmif1miaf")),
		box("meta", make([]byte, 4), box("hdlr", hdlr), box("pitm", make([]byte, 6)),
			box("iprp", box("ipco", box("colr", []byte("nclx"), make([]byte, 7)), box("ispe", ispe))))...),
		box("mdat", make([]byte, 64))...)
}

func pdfBytes() []byte {
	return []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
}

func mp4Bytes() []byte {
	return append(box("ftyp", []byte("isom"), []byte{0, 0, 2, 0}, []byte("isomiso2avc1mp41")), box("mdat", make([]byte, 32))...)
}

func mp3Bytes() []byte {
	// An ID3v2 tag followed by MPEG-1 Layer III frame headers.
	out := []byte("ID3\x03\x00\x00\x00\x00\x00\x00")
	for i := 0; i < 4; i++ {
		out = append(out, 0xFF, 0xFB, 0x90, 0x64)
		out = append(out, make([]byte, 413)...)
	}
	return out
}

func webmBytes() []byte {
	return []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04\x42\x85\x81\x02")
}

func svgBytes() []byte {
	return []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>`)
}

func htmlBytes() []byte {
	return []byte("<!DOCTYPE html><html><head><title>x</title></head><body><script>alert(1)</script></body></html>")
}
