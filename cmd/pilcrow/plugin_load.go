package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

// loadedPlugin is a plugin folder or bundle read as far as it goes: every
// problem found on the way is in diags, and the later fields are set only
// when the step producing them succeeded.
type loadedPlugin struct {
	// dir is the plugin folder; "" for a bundle.
	dir          string
	manifestJSON []byte
	// manifest is nil when manifest.json has problems.
	manifest *manifest.Manifest
	// script is the built (or bundled) plugin.js; nil when the build failed.
	script []byte
	// entry names the file the script came from, for messages:
	// "src/plugin.ts" for a folder, "plugin.js" for a bundle.
	entry  string
	bundle *bundle.Bundle
	diags  []diagnostic
}

func (l *loadedPlugin) valid() bool { return !hasErrors(l.diags) }

// loadOptions tune loadPlugin.
type loadOptions struct {
	build    authoring.Options
	progress progress
}

// loadPlugin reads the plugin at path: a folder is parsed and built, a file
// is read as a bundle. Problems with the plugin land in diags; the error is
// for the caller's mistakes and I/O failures (exit 2).
func loadPlugin(ctx context.Context, path string, opts loadOptions) (*loadedPlugin, error) {
	kind, err := statPath(path)
	if err != nil {
		return nil, err
	}
	if kind == pathFile && filepath.Base(path) == bundle.ManifestFile {
		return nil, fmt.Errorf("%s: give the plugin folder (the one holding manifest.json) or a bundle .zip", path)
	}
	if kind == pathFile {
		return loadBundle(path, opts)
	}
	return loadFolder(ctx, path, opts)
}

func loadBundle(path string, opts loadOptions) (*loadedPlugin, error) {
	opts.progress.step("reading bundle %s", relPath(path))
	l := &loadedPlugin{entry: bundle.ScriptFile}
	b, err := bundle.ReadFile(path)
	var be *bundle.Error
	switch {
	case errors.As(err, &be):
		l.diags = append(l.diags, fromProblems(be.Problems)...)
		return l, nil
	case err != nil:
		return nil, err
	}
	l.bundle, l.manifest, l.manifestJSON, l.script = b, b.Manifest, b.ManifestJSON, b.Script
	return l, nil
}

func loadFolder(ctx context.Context, dir string, opts loadOptions) (*loadedPlugin, error) {
	l := &loadedPlugin{dir: dir}
	data, err := readManifestFile(dir)
	if err != nil {
		return nil, err
	}
	l.manifestJSON = data
	m, problems := manifest.Parse(data)
	l.manifest = m
	l.diags = append(l.diags, fromProblems(problems)...)

	opts.progress.step("building %s", relPath(dir))
	res, err := authoring.BuildWithOptions(ctx, dir, opts.build)
	var buildErr *authoring.BuildError
	switch {
	case errors.As(err, &buildErr):
		l.diags = append(l.diags, fromMessages(buildErr.Messages)...)
	case errors.Is(err, authoring.ErrNoEntry):
		l.diags = append(l.diags, diagnostic{File: authoring.EntryCandidates[0], Severity: severityError,
			Message: "no source entry: create src/plugin.ts or src/plugin.js"})
	case err != nil:
		return nil, fmt.Errorf("build: %w", err)
	default:
		l.diags = append(l.diags, fromMessages(res.Warnings)...)
		l.script, l.entry = res.Script, res.Entry
		if m != nil {
			// ctx APIs the code uses but the manifest does not grant:
			// warnings, since the code may test for them first.
			ws, err := authoring.CheckCtxGrants(dir, res.Sources, m)
			if err != nil {
				return nil, err
			}
			l.diags = append(l.diags, fromMessages(ws)...)
		}
	}
	return l, nil
}

// readManifestFile reads DIR/manifest.json. A folder without one is not a
// plugin folder at all, which is the caller's mistake rather than a problem
// with a plugin.
func readManifestFile(dir string) ([]byte, error) {
	name := filepath.Join(dir, bundle.ManifestFile)
	data, err := readLimited(name, manifest.MaxSize+1) // one byte over is enough for Parse to report the size
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a plugin folder: it has no manifest.json (start one with \"pilcrow plugin init\")", dir)
	}
	return data, err
}

// readLimited reads at most limit bytes of the file.
func readLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}
