package cms

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// dimsFeedLimit caps how much of a file the dimension reader may consume; an
// image header that is not within it yields no dimensions.
const dimsFeedLimit = 8 << 20

// MediaUpload is one file being uploaded.
type MediaUpload struct {
	// Filename is the client's name for the file; only its last path element is kept.
	Filename string
	// DeclaredType is the Content-Type the client sent for the file, if any.
	// It must agree with the bytes.
	DeclaredType string
	// Size is the exact length when known, else storage.UnknownSize.
	Size int64
	// Body is read once, as a stream: never held in memory whole.
	Body io.Reader
	Alt  string
	// Title is an optional caption-like name shown in the library.
	Title string
}

// ReceivedMedia is an upload whose bytes are in the blob store but which has
// no database row yet: Commit writes the row, Discard removes the blob.
// Splitting the two lets a multipart handler read fields that follow the file.
type ReceivedMedia struct {
	m    Media
	done bool
}

// Media is what the item will look like once committed.
func (p *ReceivedMedia) Media() Media { return p.m }

// Upload stores a file and records it: Receive then Commit.
func (l *MediaLibrary) Upload(ctx context.Context, u *User, in MediaUpload) (*Media, error) {
	p, err := l.Receive(ctx, u, in)
	if err != nil {
		return nil, err
	}
	return l.Commit(ctx, p, in.Alt, in.Title)
}

// Receive checks the upload's type from its first bytes, then streams it into
// the blob store while hashing it, counting it against the size cap and (for
// images) reading its dimensions. Nothing is written to the database.
func (l *MediaLibrary) Receive(ctx context.Context, u *User, in MediaUpload) (*ReceivedMedia, error) {
	if !u.Can(PermManageOwnMedia) {
		return nil, forbiddenf("your role may not upload media")
	}
	var v ValidationError
	name := cleanFilename(in.Filename)
	in.Alt = validateMediaText(&v, "/alt", in.Alt, maxAltLen)
	in.Title = validateMediaText(&v, "/title", in.Title, maxTitleLen)
	if in.Body == nil {
		v.Add("/file", "is required")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.Size > l.maxBytes {
		return nil, l.tooLarge()
	}
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(in.Body, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("media upload: read file: %w", err)
	}
	head = head[:n]
	if int64(n) > l.maxBytes {
		return nil, l.tooLarge()
	}
	mimeType, err := classify(head, in.DeclaredType, name)
	if err != nil {
		return nil, err
	}
	mt := acceptedTypes[mimeType]
	if name == "" {
		name = "upload" + mt.exts[0]
	}
	id, err := newMediaID()
	if err != nil {
		return nil, err
	}
	key := id + mt.exts[0]

	sum := sha256.New()
	capped := &capReader{r: in.Body, left: l.maxBytes - int64(n)}
	var body io.Reader = io.MultiReader(bytesReader(head), capped)
	var dims *dimsReader
	if mt.dims != nil {
		dims = startDims(mt.dims)
		defer dims.finish() // also on failure: never leak the decoding goroutine
		body = io.TeeReader(body, dims)
	}
	body = io.TeeReader(body, hashWriter{sum})

	info, err := l.store.Put(ctx, key, body, storage.PutOptions{ContentType: mimeType, Size: in.Size})
	if err != nil {
		if capped.over {
			return nil, l.tooLarge()
		}
		return nil, fmt.Errorf("media upload: store %s: %w", name, err)
	}
	now := time.UnixMilli(l.now().UTC().UnixMilli()).UTC()
	p := &ReceivedMedia{m: Media{ID: id, StorageKey: key, Filename: name, MimeType: mimeType, Size: info.Size,
		SHA256: hex.EncodeToString(sum.Sum(nil)), OwnerID: u.ID, CreatedAt: now, UpdatedAt: now,
		Alt: in.Alt, Title: in.Title}}
	if dims != nil {
		if w, h, ok := dims.finish(); ok {
			p.m.Width, p.m.Height = &w, &h
		}
	}
	return p, nil
}

// Commit writes the row for a received upload, with its alt text and title.
// If the row cannot be written the blob is deleted (or queued for deletion),
// so no bytes outlive a failed upload.
func (l *MediaLibrary) Commit(ctx context.Context, p *ReceivedMedia, alt, title string) (*Media, error) {
	if p.done {
		return nil, errors.New("media upload: already committed or discarded")
	}
	var v ValidationError
	alt = validateMediaText(&v, "/alt", alt, maxAltLen)
	title = validateMediaText(&v, "/title", title, maxTitleLen)
	if err := v.Err(); err != nil {
		l.Discard(ctx, p)
		return nil, err
	}
	m := p.m
	m.Alt, m.Title = alt, title
	if err := l.beforeUpload(ctx, &m); err != nil {
		l.Discard(ctx, p)
		return nil, err
	}
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		var owner any
		if m.OwnerID != "" {
			owner = m.OwnerID
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO media (`+mediaColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.StorageKey, m.Filename, m.MimeType, m.Size, m.Width, m.Height, m.Alt, m.Title, m.SHA256, owner,
			m.CreatedAt.UnixMilli(), m.UpdatedAt.UnixMilli())
		if err != nil {
			return fmt.Errorf("media upload: record %s: %w", m.Filename, err)
		}
		return l.afterUpload(ctx, tx, &m)
	})
	if err != nil {
		l.Discard(ctx, p)
		return nil, err
	}
	p.done = true
	return &m, nil
}

// Discard deletes a received upload's blob. If the store refuses, the blob is
// queued for a later sweep.
func (l *MediaLibrary) Discard(ctx context.Context, p *ReceivedMedia) {
	if p == nil || p.done {
		return
	}
	p.done = true
	ctx = context.WithoutCancel(ctx)
	dctx, cancel := context.WithTimeout(ctx, blobDeleteTimeout)
	defer cancel()
	if err := l.store.Delete(dctx, p.m.StorageKey); err != nil {
		l.log.WarnContext(ctx, "media: could not delete the blob of an unrecorded upload; queued", slog.String("key", p.m.StorageKey), slog.Any("err", err))
		if qerr := queueOrphan(ctx, l.db.Write(), p.m.StorageKey, "unrecorded upload", l.now()); qerr != nil {
			l.log.ErrorContext(ctx, "media: blob left in the store without a row", slog.String("key", p.m.StorageKey), slog.Any("err", qerr))
		}
	}
}

func (l *MediaLibrary) tooLarge() error {
	return fmt.Errorf("%w: the limit is %d bytes", ErrMediaTooLarge, l.maxBytes)
}

// capReader fails the stream once more than left bytes have been read, so a
// too-large upload stops at the cap instead of filling the store.
type capReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		c.over = true
		return 0, ErrMediaTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		c.over = true
		return n, ErrMediaTooLarge
	}
	return n, err
}

type hashWriter struct{ h hash.Hash }

func (w hashWriter) Write(p []byte) (int, error) { return w.h.Write(p) }

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// dimsReader runs an image-header decoder on a copy of the upload stream as
// it passes, through a pipe: the decoder reads only as far as the header, and
// once it returns the rest of the stream is no longer copied to it.
type dimsReader struct {
	pw      io.WriteCloser
	fed     int64
	stopped bool
	done    chan struct{}
	w, h    int
	err     error
	closed  bool
}

func startDims(decode func(io.Reader) (int, int, error)) *dimsReader {
	pr, pw := io.Pipe()
	d := &dimsReader{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		d.w, d.h, d.err = decode(pr)
		// Unblock and stop the writer side: the header has been read.
		pr.CloseWithError(errDimsDone)
	}()
	return d
}

var errDimsDone = errors.New("dimensions read")

// Write never fails: the decoder's fate must not affect the upload.
func (d *dimsReader) Write(p []byte) (int, error) {
	if d.stopped {
		return len(p), nil
	}
	if d.fed+int64(len(p)) > dimsFeedLimit {
		d.stop()
		return len(p), nil
	}
	d.fed += int64(len(p))
	if _, err := d.pw.Write(p); err != nil {
		d.stopped = true
	}
	return len(p), nil
}

func (d *dimsReader) stop() {
	d.stopped = true
	if !d.closed {
		d.closed = true
		_ = d.pw.Close()
	}
}

// finish ends the feed and returns the dimensions, if the decoder found them.
func (d *dimsReader) finish() (int, int, bool) {
	d.stop()
	<-d.done
	return d.w, d.h, d.err == nil && d.w > 0 && d.h > 0
}
