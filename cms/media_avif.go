package cms

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errNoISPE: the file has no image spatial extents property where expected.
var errNoISPE = errors.New("avif: no ispe property found")

// avifDims reads an AVIF's width and height from its first 'ispe' (image
// spatial extents) property, at meta/iprp/ipco/ispe in the ISO-BMFF box tree.
// Encoders write the primary image's properties first; for grid or
// multi-image files the first ispe may describe a tile. The walk reads boxes
// in order and stops at the first 'mdat', so only the header is read.
func avifDims(r io.Reader) (int, int, error) {
	return findISPE(bufio.NewReader(r), 0)
}

func findISPE(r *bufio.Reader, depth int) (int, int, error) {
	if depth > 4 {
		return 0, 0, errNoISPE
	}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return 0, 0, errNoISPE
			}
			return 0, 0, fmt.Errorf("avif: %w", err)
		}
		size := uint64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:])
		headerLen := uint64(8)
		switch size {
		case 1:
			var ext [8]byte
			if _, err := io.ReadFull(r, ext[:]); err != nil {
				return 0, 0, fmt.Errorf("avif: %w", err)
			}
			size, headerLen = binary.BigEndian.Uint64(ext[:]), 16
		case 0:
			size = 1 << 62 // to the end of the enclosing box
		}
		if size < headerLen {
			return 0, 0, fmt.Errorf("avif: box %q has impossible size %d", typ, size)
		}
		payload := size - headerLen
		switch typ {
		case "mdat":
			return 0, 0, errNoISPE
		case "meta", "iprp", "ipco":
			skip := uint64(0)
			if typ == "meta" {
				skip = 4 // full box: version and flags
			}
			if payload < skip {
				return 0, 0, errNoISPE
			}
			if _, err := r.Discard(int(skip)); err != nil {
				return 0, 0, fmt.Errorf("avif: %w", err)
			}
			sub := bufio.NewReader(io.LimitReader(r, int64(min(payload-skip, 1<<40))))
			return findISPE(sub, depth+1)
		case "ispe":
			var b [12]byte
			if payload < 12 {
				return 0, 0, errors.New("avif: ispe box too short")
			}
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return 0, 0, fmt.Errorf("avif: %w", err)
			}
			w, h := binary.BigEndian.Uint32(b[4:8]), binary.BigEndian.Uint32(b[8:12])
			if w == 0 || h == 0 || w > 1<<20 || h > 1<<20 {
				return 0, 0, fmt.Errorf("avif: implausible size %dx%d", w, h)
			}
			return int(w), int(h), nil
		default:
			if _, err := io.CopyN(io.Discard, r, int64(min(payload, 1<<40))); err != nil {
				return 0, 0, errNoISPE
			}
		}
	}
}
