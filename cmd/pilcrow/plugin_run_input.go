package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// maxEventBytes caps an --event file; the sandbox caps values crossing into
// the isolate anyway, this only keeps a wrong file from being read whole.
const maxEventBytes = 8 << 20

// eventFixture is where a plugin folder keeps the sample event of a hook
// (docs/plugins.md, "Event fixtures"): ":" becomes "." so the name works on
// every file system. A route's sample request is route.<name>.json.
func eventFixture(kind, name string) string {
	if kind == sandbox.KindRoute {
		return path.Join("test", "events", "route."+name+".json")
	}
	return path.Join("test", "events", strings.ReplaceAll(name, ":", ".")+".json")
}

// runEvent returns the event to pass and the file it came from ("" for the
// built-in minimal event).
func runEvent(l *loadedPlugin, kind, name, file string, stdin io.Reader) (json.RawMessage, string, error) {
	var data []byte
	var err error
	switch {
	case file == "-":
		data, err = io.ReadAll(io.LimitReader(stdin, maxEventBytes+1))
	case file != "":
		data, err = readLimited(file, maxEventBytes+1)
	case l.dir != "":
		fixture := eventFixture(kind, name)
		data, err = readLimited(filepath.Join(l.dir, filepath.FromSlash(fixture)), maxEventBytes+1)
		if errors.Is(err, fs.ErrNotExist) {
			return defaultEvent(l.manifest, kind, name), "", nil
		}
		file = fixture
	default:
		return defaultEvent(l.manifest, kind, name), "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("event: %w", err)
	}
	if len(data) > maxEventBytes {
		return nil, "", fmt.Errorf("event %s: larger than %s", file, humanBytes(maxEventBytes))
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		return nil, "", fmt.Errorf("event %s is not valid JSON: %v", file, err)
	}
	return data, file, nil
}

// defaultEvent is a minimal event of the shape the hook receives on a site
// (docs/plugins.md, "Events"; the hook's Event in the manifest vocabulary),
// for trying a hook without writing one.
func defaultEvent(m *manifest.Manifest, kind, name string) json.RawMessage {
	var v any
	spec, _ := manifest.HookName(name).Spec()
	switch {
	case kind == sandbox.KindRoute:
		v = map[string]any{"method": "GET", "path": name, "query": map[string]string{}, "headers": map[string]string{}, "body": nil}
	case spec.Event == "ContentEvent":
		v = map[string]any{"collection": "posts", "id": "example-entry", "isNew": true, "data": map[string]any{}}
	case spec.Event == "ContentAfterEvent":
		v = map[string]any{"deliveryId": "example-delivery", "collection": "posts", "id": "example-entry", "isNew": true, "data": map[string]any{}}
	case spec.Event == "MediaUploadEvent":
		v = map[string]any{"filename": "example.png", "mimeType": "image/png", "size": 0}
	case spec.Event == "MediaAfterEvent":
		v = map[string]any{"deliveryId": "example-delivery", "id": "example-media", "url": "/api/media/example-media/file", "filename": "example.png", "mimeType": "image/png", "size": 0, "alt": ""}
	case spec.Event == "CronEvent":
		ev := map[string]any{"name": "", "schedule": "", "data": nil, "scheduledAt": time.Now().UTC().Truncate(time.Minute).Format(time.RFC3339)}
		if m != nil && len(m.Cron) > 0 {
			ev["name"], ev["schedule"] = m.Cron[0].Name, m.Cron[0].Schedule
		}
		v = ev
	case spec.Event == "PageMetadataEvent":
		v = map[string]any{"collection": "posts", "id": "example-entry", "slug": "example-entry", "data": map[string]any{}, "publishedAt": "2026-01-01T00:00:00Z"}
	case spec.Event == "UninstallEvent":
		v = map[string]any{"deleteData": false}
	default: // LifecycleEvent
		v = map[string]any{}
	}
	data, _ := json.Marshal(v) // plain maps always marshal
	return data
}

// parseSettings turns --setting key=value flags into the plugin's setting
// values, typed as the manifest declares them. Secrets the plugin may not see
// go to the egress client only.
func parseSettings(m *manifest.Manifest, flags []string) (settings map[string]any, secrets map[string]string, err error) {
	settings, secrets = map[string]any{}, map[string]string{}
	for _, f := range flags {
		key, value, ok := strings.Cut(f, "=")
		if !ok || key == "" {
			return nil, nil, fmt.Errorf("--setting %q: write it as key=value", f)
		}
		var decl *manifest.Setting
		for i := range m.Settings {
			if m.Settings[i].Key == key {
				decl = &m.Settings[i]
			}
		}
		if decl == nil {
			return nil, nil, fmt.Errorf("--setting %s: the manifest declares no setting %q", f, key)
		}
		switch decl.Type {
		case manifest.SettingNumber:
			n, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("--setting %s: %q is a number setting", f, key)
			}
			settings[key] = n
		case manifest.SettingBoolean:
			b, err := strconv.ParseBool(value)
			if err != nil {
				return nil, nil, fmt.Errorf("--setting %s: %q is a boolean setting (true or false)", f, key)
			}
			settings[key] = b
		case manifest.SettingSecret:
			secrets[key] = value
			if decl.VisibleToPlugin() {
				settings[key] = value
			}
		default:
			settings[key] = value
		}
	}
	return settings, secrets, nil
}
