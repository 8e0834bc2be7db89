package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/pilcrow-cms/pilcrow/site"
)

// localSite is the site `plugin run` and `plugin test` act on: a real site
// (content, media, users, plugin data) in --site DIR, kept between runs, or
// in a temporary folder removed on close.
type localSite struct {
	*site.Site
	dir string
	// temp: dir is ours to remove on close.
	temp bool
	// created: the site did not exist before this run (a seed applies).
	created bool
}

// openLocalSite opens (creating it if needed) the local site in dir, or a
// throwaway one when dir is "". log receives the site's own notes.
func openLocalSite(ctx context.Context, dir string, log *slog.Logger) (*localSite, error) {
	ls := &localSite{dir: dir}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "pilcrow-run-*")
		if err != nil {
			return nil, fmt.Errorf("throwaway site: %w", err)
		}
		ls.dir, ls.temp, ls.created = tmp, true, true
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("--site %s: %w", dir, err)
		}
		_, err := os.Stat(filepath.Join(dir, "pilcrow.db"))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			ls.created = true
		case err != nil:
			return nil, fmt.Errorf("--site %s: %w", dir, err)
		}
	}
	st, err := site.Open(ctx, site.Config{DataDir: ls.dir, Logger: log})
	if err != nil {
		if ls.temp {
			os.RemoveAll(ls.dir)
		}
		return nil, fmt.Errorf("local site %s: %w", ls.dir, err)
	}
	ls.Site = st
	return ls, nil
}

// Close closes the site and removes a throwaway one.
func (ls *localSite) Close() {
	ls.Site.Close()
	if ls.temp {
		os.RemoveAll(ls.dir)
	}
}

// seed applies the seed file to a site that was just created; an existing
// --site keeps what it has (seeding twice would duplicate every entry), and
// the note says how to start over.
func (ls *localSite) seed(ctx context.Context, file string, prog progress) error {
	if file == "" {
		return nil
	}
	s, err := site.ReadSeed(file)
	if err != nil {
		return err
	}
	if !ls.created {
		prog.note("--site %s already exists, so --seed %s was not applied again (remove the folder to start from the seed)", relPath(ls.dir), relPath(file))
		return nil
	}
	items, err := ls.ApplySeed(ctx, s, filepath.Dir(file))
	for _, it := range items {
		prog.note("seeded %s %s (%s)", it.Kind, it.Name, it.ID)
	}
	return err
}
