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
	Logger         *slog.Logger
}

// Site is an open Pilcrow site.
type Site struct {
	cfg   Config
	log   *slog.Logger
	DB    *storage.DB
	Users *cms.Users
	Auth  *cms.Auth
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
	return s, nil
}

// Handler is the site's HTTP handler.
func (s *Site) Handler() http.Handler {
	return web.New(s.cfg.Web, web.Services{DB: s.DB, Users: s.Users, Auth: s.Auth}, s.log)
}

// Run runs the site's background work (scheduled publishing, queues) until ctx
// ends.
func (s *Site) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Close releases everything the site holds open.
func (s *Site) Close() error {
	return errors.Join(s.DB.Close())
}
