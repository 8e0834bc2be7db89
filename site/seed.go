package site

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// Seed is the content a `pilcrow plugin run --seed FILE` puts on a new local
// site before the plugin runs (docs/plugins.md, "Seeding the local site"). The
// file is JSON; unknown keys are an error, so a misspelt key never seeds
// silently less than the author meant.
type Seed struct {
	// Users are created first; entries and media carry no author.
	Users []SeedUser `json:"users"`
	// Collections use the body of POST /api/collections.
	Collections []cms.CollectionInput `json:"collections"`
	// Media files are read from paths relative to the seed file.
	Media []SeedMedia `json:"media"`
	// Entries are created (as drafts, then published when asked) after the
	// collections and media.
	Entries []SeedEntry `json:"entries"`
}

// SeedUser is one user of a seed. Without a password the user gets a random
// one: seeded users are for ctx.users, not for signing in.
type SeedUser struct {
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Role     cms.Role `json:"role"`
	Password string   `json:"password"`
}

// SeedEntry is one entry: its collection, its data (the body of POST
// /api/collections/{name}/entries) and "draft" (the default) or "published".
type SeedEntry struct {
	Collection string         `json:"collection"`
	Data       map[string]any `json:"data"`
	Status     cms.Status     `json:"status"`
}

// SeedMedia is one media item: the file (relative to the seed file, and
// inside its folder), with optional alt text and title.
type SeedMedia struct {
	File  string `json:"file"`
	Alt   string `json:"alt"`
	Title string `json:"title"`
}

// maxSeedBytes bounds a seed file; media files are streamed, not counted.
const maxSeedBytes = 8 << 20

// ReadSeed reads and decodes a seed file strictly.
func ReadSeed(name string) (*Seed, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSeedBytes+1))
	if err != nil {
		return nil, fmt.Errorf("seed %s: %w", name, err)
	}
	if len(data) > maxSeedBytes {
		return nil, fmt.Errorf("seed %s: larger than %d MiB", name, maxSeedBytes>>20)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Seed
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("seed %s is not a seed file: %v", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("seed %s: more than one JSON value", name)
	}
	for i, e := range s.Entries {
		if e.Status != "" && e.Status != cms.StatusDraft && e.Status != cms.StatusPublished {
			return nil, fmt.Errorf("seed %s: entries[%d].status: %q is not \"draft\" or \"published\"", name, i, e.Status)
		}
	}
	return &s, nil
}

// SeededItem is one thing a seed created, for the run to print.
type SeededItem struct {
	Kind string `json:"kind"` // "user", "collection", "media" or "entry"
	ID   string `json:"id"`   // the user's, media item's or entry's id; the collection's name
	Name string `json:"name"` // the email, collection, file name or "collection/slug"
}

// ApplySeed creates everything in seed on s, in the order users, collections,
// media, entries, stopping at the first item the site refuses (its error
// names the item). Media paths are resolved against dir, the seed file's
// folder, and may not leave it.
func (s *Site) ApplySeed(ctx context.Context, seed *Seed, dir string) ([]SeededItem, error) {
	var out []SeededItem
	for i, in := range seed.Users {
		nu := cms.NewUser{Email: in.Email, Name: in.Name, Role: in.Role, Password: in.Password}
		if nu.Role == "" {
			nu.Role = cms.RoleAuthor
		}
		if nu.Password == "" {
			nu.Password = rand.Text()
		}
		u, err := s.Users.Create(ctx, nu)
		if err != nil {
			return out, fmt.Errorf("seed users[%d] (%s): %w", i, in.Email, err)
		}
		out = append(out, SeededItem{Kind: "user", ID: u.ID, Name: u.Email})
	}
	for i, in := range seed.Collections {
		c, err := s.Content.CreateCollection(ctx, in)
		if err != nil {
			return out, fmt.Errorf("seed collections[%d] (%s): %w", i, in.Name, err)
		}
		out = append(out, SeededItem{Kind: "collection", ID: c.Name, Name: c.Name})
	}
	for i, in := range seed.Media {
		m, err := s.seedMedia(ctx, in, dir)
		if err != nil {
			return out, fmt.Errorf("seed media[%d] (%s): %w", i, in.File, err)
		}
		out = append(out, SeededItem{Kind: "media", ID: m.ID, Name: m.Filename})
	}
	for i, in := range seed.Entries {
		if in.Data == nil {
			in.Data = map[string]any{}
		}
		e, err := s.Content.CreateEntry(ctx, nil, in.Collection, in.Data)
		if err == nil && in.Status == cms.StatusPublished {
			e, err = s.Content.Publish(ctx, nil, in.Collection, e.ID, nil, e.Version)
		}
		if err != nil {
			return out, fmt.Errorf("seed entries[%d] (%s): %w", i, in.Collection, err)
		}
		out = append(out, SeededItem{Kind: "entry", ID: e.ID, Name: e.Collection + "/" + e.Slug})
	}
	return out, nil
}

// seedActor uploads seeded media: an editor with no id, so no owner is
// recorded (like media a plugin uploads).
var seedActor = &cms.User{Name: "seed", Role: cms.RoleEditor}

func (s *Site) seedMedia(ctx context.Context, in SeedMedia, dir string) (*cms.Media, error) {
	if in.File == "" {
		return nil, errors.New(`"file" is required`)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	// os.Root refuses paths (and links) that leave the seed's folder: a
	// seed names files beside it, never elsewhere on the machine.
	f, err := root.Open(filepath.FromSlash(in.File))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	return s.Media.Upload(ctx, seedActor, cms.MediaUpload{
		Filename: filepath.Base(in.File), Size: st.Size(), Body: f, Alt: in.Alt, Title: in.Title,
	})
}
