package cms

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// Media errors, for callers to test with errors.Is. The web layer maps
// ErrMediaTooLarge to 413 and ErrUnsupportedMedia to 415; the blob stores'
// storage.ErrBlobUnavailable and storage.ErrBlobStore pass through (503/502).
var (
	ErrMediaTooLarge    = errors.New("media file is too large")
	ErrUnsupportedMedia = errors.New("unsupported media type")
)

// DefaultMediaMaxBytes is the upload size cap unless configured otherwise.
const DefaultMediaMaxBytes int64 = 100 << 20

// Media is one item of the media library. The bytes live in the blob store
// under StorageKey; the row is only written once they are stored.
type Media struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	Filename string `json:"filename"`
	MimeType string `json:"mimeType"`
	Size     int64  `json:"size"`
	// Width and Height are pixels for images (JPEG, PNG, GIF, WebP, AVIF), null otherwise.
	Width     *int      `json:"width"`
	Height    *int      `json:"height"`
	Alt       string    `json:"alt"`
	Title     string    `json:"title"`
	SHA256    string    `json:"sha256"`
	OwnerID   string    `json:"ownerId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`

	StorageKey string `json:"-"`
}

// IsImage reports whether the item is an image, which browsers display inline.
func (m *Media) IsImage() bool { return strings.HasPrefix(m.MimeType, "image/") }

// MediaReferenceFinder lists the entries whose media fields point at a media
// item; the content service implements it.
type MediaReferenceFinder interface {
	MediaReferences(ctx context.Context, mediaID string) ([]EntryRef, error)
}

// MediaInUseError refuses to delete a media item that entries still use.
type MediaInUseError struct {
	MediaID string
	Refs    []EntryRef
}

func (e *MediaInUseError) Error() string {
	names := make([]string, 0, len(e.Refs))
	for i, r := range e.Refs {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(e.Refs)-10))
			break
		}
		names = append(names, r.Collection+"/"+r.Slug)
	}
	return fmt.Sprintf("media %s is used by %d entr%s (%s); remove it from them first, or delete with force",
		e.MediaID, len(e.Refs), map[bool]string{true: "y", false: "ies"}[len(e.Refs) == 1], strings.Join(names, ", "))
}

// Is makes a MediaInUseError match ErrConflict.
func (e *MediaInUseError) Is(target error) bool { return target == ErrConflict }

// MediaDelivery is how files in a presigning store (S3) reach clients.
type MediaDelivery string

const (
	// DeliverRedirect answers a file URL with a redirect to a short-lived
	// presigned URL, so the bytes flow from the bucket, not through Pilcrow.
	DeliverRedirect MediaDelivery = "redirect"
	// DeliverProxy streams the bytes through Pilcrow (private buckets behind
	// a firewall, or one origin for everything).
	DeliverProxy MediaDelivery = "proxy"
)

// DefaultPresignTTL is how long presigned file URLs stay valid by default.
const DefaultPresignTTL = 15 * time.Minute

// ParseMediaDelivery reads a --media-serve value.
func ParseMediaDelivery(s string) (MediaDelivery, error) {
	switch d := MediaDelivery(strings.ToLower(strings.TrimSpace(s))); d {
	case DeliverRedirect, DeliverProxy:
		return d, nil
	case "":
		return DeliverRedirect, nil
	}
	return "", fmt.Errorf("media delivery %q: want redirect or proxy", s)
}

// MediaOptions configure the media library.
type MediaOptions struct {
	// MaxBytes caps one upload (default DefaultMediaMaxBytes).
	MaxBytes int64
	// Delivery applies to stores that can presign (S3); local files are
	// always streamed. Default DeliverRedirect.
	Delivery MediaDelivery
	// PresignTTL is the lifetime of presigned URLs (default DefaultPresignTTL).
	PresignTTL time.Duration
	// References, when set, protects media that entries use from deletion.
	References MediaReferenceFinder
	Logger     *slog.Logger
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// MediaLibrary manages media items: uploads, metadata and deletion, keeping
// the database and the blob store consistent. It is safe for concurrent use.
type MediaLibrary struct {
	db         *storage.DB
	store      storage.BlobStore
	refs       MediaReferenceFinder
	maxBytes   int64
	delivery   MediaDelivery
	presignTTL time.Duration
	log        *slog.Logger
	now        func() time.Time
	// hooks are the plugin upload hooks (media_hooks.go).
	hooksMu sync.RWMutex
	hooks   MediaHooks
	// variantSem bounds how many image variants are made at once.
	variantOnce sync.Once
	variantSem  chan struct{}
	// blobRefs are the store's other blob owners (media_sweep.go).
	sweepMu  sync.Mutex
	blobRefs []BlobReferencer
}

// NewMediaLibrary returns the media service over db and store.
func NewMediaLibrary(db *storage.DB, store storage.BlobStore, opts MediaOptions) *MediaLibrary {
	l := &MediaLibrary{db: db, store: store, refs: opts.References, maxBytes: opts.MaxBytes, log: opts.Logger, now: opts.Now,
		delivery: opts.Delivery, presignTTL: opts.PresignTTL}
	if l.delivery == "" {
		l.delivery = DeliverRedirect
	}
	if l.presignTTL <= 0 {
		l.presignTTL = DefaultPresignTTL
	}
	if l.maxBytes <= 0 {
		l.maxBytes = DefaultMediaMaxBytes
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// SetReferenceFinder plugs in the content service after both are built (they
// depend on each other: content checks media exist, media checks usage).
func (l *MediaLibrary) SetReferenceFinder(f MediaReferenceFinder) { l.refs = f }

// Store is the blob store the library writes to.
func (l *MediaLibrary) Store() storage.BlobStore { return l.store }

// MaxBytes is the upload size cap.
func (l *MediaLibrary) MaxBytes() int64 { return l.maxBytes }

const mediaColumns = `id, storage_key, filename, mime_type, size, width, height, alt, title, sha256, owner_id, created_at, updated_at`

func scanMedia(row interface{ Scan(...any) error }) (*Media, error) {
	var m Media
	var w, h sql.NullInt64
	var owner sql.NullString
	var created, updated int64
	if err := row.Scan(&m.ID, &m.StorageKey, &m.Filename, &m.MimeType, &m.Size, &w, &h, &m.Alt, &m.Title,
		&m.SHA256, &owner, &created, &updated); err != nil {
		return nil, err
	}
	if w.Valid && h.Valid {
		wi, hi := int(w.Int64), int(h.Int64)
		m.Width, m.Height = &wi, &hi
	}
	m.OwnerID = owner.String
	m.CreatedAt, m.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return &m, nil
}

// Get returns one media item, or ErrNotFound.
func (l *MediaLibrary) Get(ctx context.Context, id string) (*Media, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, notFoundf("there is no media item %q", id)
	}
	m, err := scanMedia(l.db.Read().QueryRowContext(ctx, `SELECT `+mediaColumns+` FROM media WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFoundf("there is no media item %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("media get: %w", err)
	}
	return m, nil
}

// MediaExists implements the content service's MediaChecker.
func (l *MediaLibrary) MediaExists(ctx context.Context, id string) (bool, error) {
	_, err := l.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// MediaQuery filters and pages a media list.
type MediaQuery struct {
	// Limit is the page size, 1..200 (default 50).
	Limit int
	// Cursor continues a previous page (its NextCursor).
	Cursor string
	// Type filters by MIME type: a kind ("image", "video", "audio",
	// "document"), a family ("image/*") or an exact type ("image/png").
	Type string
	// Search matches filename, alt text and title, case-insensitively.
	Search string
	// OwnerID keeps only one user's uploads.
	OwnerID string
}

// MediaPage is one page of a media list.
type MediaPage struct {
	Items      []*Media `json:"items"`
	NextCursor string   `json:"nextCursor,omitempty"`
}

// List returns media newest first. Ids are UUIDv7, so id order is upload
// order and the cursor is simply the last id seen.
func (l *MediaLibrary) List(ctx context.Context, q MediaQuery) (*MediaPage, error) {
	var v ValidationError
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 1 || q.Limit > 200 {
		v.Add("/limit", "must be between 1 and 200")
	}
	where := []string{"1=1"}
	var args []any
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if _, perr := uuid.Parse(string(raw)); err != nil || perr != nil {
			v.Add("/cursor", "is not a cursor this API returned")
		} else {
			where, args = append(where, "id < ?"), append(args, string(raw))
		}
	}
	if t := strings.ToLower(strings.TrimSpace(q.Type)); t != "" {
		switch {
		case t == "document":
			where = append(where, "mime_type NOT LIKE 'image/%' AND mime_type NOT LIKE 'video/%' AND mime_type NOT LIKE 'audio/%'")
		case t == "image" || t == "video" || t == "audio":
			where, args = append(where, "mime_type LIKE ?"), append(args, t+"/%")
		case strings.HasSuffix(t, "/*") && validMimePart(strings.TrimSuffix(t, "/*")):
			where, args = append(where, "mime_type LIKE ?"), append(args, strings.TrimSuffix(t, "*")+"%")
		case strings.Count(t, "/") == 1 && validMimePart(strings.Replace(t, "/", "", 1)):
			where, args = append(where, "mime_type = ?"), append(args, t)
		default:
			v.Add("/type", `must be image, video, audio, document, a family like "image/*" or a MIME type`)
		}
	}
	if s := strings.TrimSpace(q.Search); s != "" {
		if len(s) > 200 {
			v.Add("/q", "must be at most 200 characters")
		}
		like := "%" + likeEscape(strings.ToLower(s)) + "%"
		where = append(where, `(lower(filename) LIKE ? ESCAPE '\' OR lower(alt) LIKE ? ESCAPE '\' OR lower(title) LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like)
	}
	if q.OwnerID != "" {
		where, args = append(where, "owner_id = ?"), append(args, q.OwnerID)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	args = append(args, q.Limit+1)
	rows, err := l.db.Read().QueryContext(ctx, `SELECT `+mediaColumns+` FROM media WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("media list: %w", err)
	}
	defer rows.Close()
	page := &MediaPage{Items: []*Media{}}
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return nil, fmt.Errorf("media list: %w", err)
		}
		page.Items = append(page.Items, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("media list: %w", err)
	}
	if len(page.Items) > q.Limit {
		page.Items = page.Items[:q.Limit]
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(page.Items[q.Limit-1].ID))
	}
	return page, nil
}

func validMimePart(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("+-.", c)) {
			return false
		}
	}
	return true
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// MediaPatch changes an item's text; nil fields are left alone.
type MediaPatch struct {
	Alt   *string `json:"alt"`
	Title *string `json:"title"`
}

// canManage reports whether u may change or delete m: editors and admins any
// item, authors only their own.
func canManage(u *User, m *Media) bool {
	return u.Can(PermManageAllMedia) || (u.Can(PermManageOwnMedia) && m.OwnerID != "" && m.OwnerID == u.ID)
}

// Update changes alt text and title.
func (l *MediaLibrary) Update(ctx context.Context, u *User, id string, p MediaPatch) (*Media, error) {
	var v ValidationError
	if p.Alt != nil {
		*p.Alt = validateMediaText(&v, "/alt", *p.Alt, maxAltLen)
	}
	if p.Title != nil {
		*p.Title = validateMediaText(&v, "/title", *p.Title, maxTitleLen)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *Media
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		m, err := scanMedia(tx.QueryRowContext(ctx, `SELECT `+mediaColumns+` FROM media WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFoundf("there is no media item %s", id)
		}
		if err != nil {
			return fmt.Errorf("media update: %w", err)
		}
		if !canManage(u, m) {
			return forbiddenf("media item %s belongs to another user; you may change only your own uploads", id)
		}
		if p.Alt != nil {
			m.Alt = *p.Alt
		}
		if p.Title != nil {
			m.Title = *p.Title
		}
		now := l.now().UTC()
		m.UpdatedAt = time.UnixMilli(now.UnixMilli()).UTC()
		if _, err := tx.ExecContext(ctx, `UPDATE media SET alt = ?, title = ?, updated_at = ? WHERE id = ?`,
			m.Alt, m.Title, now.UnixMilli(), id); err != nil {
			return fmt.Errorf("media update: %w", err)
		}
		out = m
		return nil
	})
	return out, err
}

// Delete removes a media item: the row (in a transaction that also queues the
// blob for deletion), then the blob. While entries use the item it is refused
// with a *MediaInUseError, unless force is set. A failed blob delete is logged
// and stays queued for SweepOrphans, so the request still succeeds and the
// bytes are not forgotten.
func (l *MediaLibrary) Delete(ctx context.Context, u *User, id string, force bool) error {
	m, err := l.Get(ctx, id)
	if err != nil {
		return err
	}
	if !canManage(u, m) {
		return forbiddenf("media item %s belongs to another user; you may change only your own uploads", id)
	}
	if l.refs != nil && !force {
		refs, err := l.refs.MediaReferences(ctx, id)
		if err != nil {
			return fmt.Errorf("media delete: find references: %w", err)
		}
		if len(refs) > 0 {
			return &MediaInUseError{MediaID: id, Refs: refs}
		}
	}
	var variants []string
	err = l.db.Tx(ctx, func(tx *sql.Tx) error {
		// Variants go with their original: queued in the same transaction.
		var err error
		if variants, err = variantKeys(ctx, tx, id); err != nil {
			return fmt.Errorf("media delete: variants: %w", err)
		}
		for _, k := range variants {
			if err := queueOrphan(ctx, tx, k, "variant of deleted media", l.now()); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM media WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("media delete: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFoundf("there is no media item %s", id)
		}
		if err := queueOrphan(ctx, tx, m.StorageKey, "deleted", l.now()); err != nil {
			return err
		}
		return l.afterDelete(ctx, tx, m)
	})
	if err != nil {
		return err
	}
	l.removeBlob(context.WithoutCancel(ctx), m.StorageKey)
	for _, k := range variants {
		l.removeBlob(context.WithoutCancel(ctx), k)
	}
	return nil
}

func newMediaID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("media: new id: %w", err)
	}
	return id.String(), nil
}

// GetMany returns the media items with the given ids, keyed by id, in one
// query per 500 ids; ids that name nothing are absent. It is the batch read
// behind ?expand= of media fields.
func (l *MediaLibrary) GetMany(ctx context.Context, ids []string) (map[string]*Media, error) {
	out := make(map[string]*Media, len(ids))
	err := inBatches(ids, func(part []string, args []any) error {
		rows, err := l.db.Read().QueryContext(ctx, `SELECT `+mediaColumns+` FROM media WHERE id IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMedia(rows)
			if err != nil {
				return err
			}
			out[m.ID] = m
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("media get many: %w", err)
	}
	return out, nil
}
