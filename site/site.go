// Package site assembles a running Pilcrow from a data folder: the database, the
// domain services and the HTTP handler. `pilcrow serve`, `pilcrow user` and the
// end-to-end tests all open a site the same way, through Open.
package site

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/web"
)

// Config says where a site lives and how it behaves.
type Config struct {
	// DataDir holds the SQLite database and, by default, local media.
	DataDir string
	// Web holds HTTP-level settings.
	Web web.Config
	// PasswordParams tunes argon2id; nil means its defaults. Tests pass cheap ones.
	PasswordParams *argon2id.Params
	// Media chooses the blob store (--media; empty: <DataDir>/media), the
	// upload cap and how S3 files are delivered.
	Media  cms.MediaConfig
	Logger *slog.Logger
}

// Site is an open Pilcrow site.
type Site struct {
	cfg   Config
	log   *slog.Logger
	DB    *storage.DB
	Users *cms.Users
	Auth  *cms.Auth
	// Content is the content service; its scheduler runs in Run.
	Content *cms.Content
	// Media is the media library; its blob-deletion janitor runs in Run.
	Media *cms.MediaLibrary
}

// Open opens (creating if needed) the site in cfg.DataDir and applies migrations.
func Open(ctx context.Context, cfg Config) (*Site, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	db, err := storage.Open(ctx, filepath.Join(cfg.DataDir, "pilcrow.db"))
	if err != nil {
		return nil, err
	}
	users := cms.NewUsers(db, cfg.PasswordParams)
	s := &Site{cfg: cfg, log: cfg.Logger, DB: db, Users: users, Auth: cms.NewAuth(db, users)}
	media, err := cms.OpenMediaLibrary(ctx, db, cfg.DataDir, cfg.Media, cfg.Logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.Media = media
	// Content checks that media fields name existing media; media refuses to
	// delete items that entries use.
	s.Content = cms.NewContent(db, cms.WithLogger(cfg.Logger), cms.WithMediaChecker(media))
	media.SetReferenceFinder(s.Content)
	return s, nil
}

// Handler is the site's HTTP handler.
func (s *Site) Handler() http.Handler {
	return web.New(s.cfg.Web, web.Services{DB: s.DB, Users: s.Users, Auth: s.Auth, Content: s.Content, Media: s.Media}, s.log)
}

// Run runs the site's background work (scheduled publishing, queues) until ctx
// ends.
func (s *Site) Run(ctx context.Context) error {
	// Both loops stop with ctx; Run waits for them so Close never pulls the
	// database out from under a running job. Overdue schedules (due while the
	// site was down) are published first, then each as it comes due.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.Media.RunJanitor(ctx, 10*time.Minute) }()
	err := cms.NewScheduler(s.Content, s.log).Run(ctx)
	wg.Wait()
	return err
}

// Close releases everything the site holds open.
func (s *Site) Close() error {
	return errors.Join(s.Media.Close(), s.DB.Close())
}
