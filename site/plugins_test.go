package site

import (
	"bytes"
	"context"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
	"image"
	"image/png"
	"log/slog"
	"net/url"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

func openTestSite(t *testing.T) *Site {
	t.Helper()
	s, err := Open(context.Background(), Config{DataDir: t.TempDir(), Database: storagetest.Spec(t, ""), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A site without active plugins starts no sandbox worker: neither at Open nor
// in Run.
func TestNoWorkersWithoutPlugins(t *testing.T) {
	s := openTestSite(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	s.warmSandbox(ctx) // what Run does; called here so the check below follows it
	cancel()
	<-done
	if st := s.SandboxStats(); st.Started != 0 {
		t.Fatalf("%d workers started on a site with no plugins", st.Started)
	}
}

func TestListValues(t *testing.T) {
	tests := []struct {
		in   plugins.ListOptions
		want url.Values
	}{
		{plugins.ListOptions{}, url.Values{}},
		{plugins.ListOptions{Limit: 5, Cursor: "c", Sort: "-createdAt", Status: "draft", Q: "go"},
			url.Values{"limit": {"5"}, "cursor": {"c"}, "sort": {"-createdAt"}, "status": {"draft"}, "q": {"go"}}},
		{plugins.ListOptions{Filter: map[string]string{"title": "x"}}, url.Values{"filter[title]": {"x"}}},
	}
	for _, tt := range tests {
		if got := listValues(tt.in); got.Encode() != tt.want.Encode() {
			t.Errorf("listValues(%+v) = %s, want %s", tt.in, got.Encode(), tt.want.Encode())
		}
	}
}

// Plugins write as the system: no author, no owner; deletes go to the trash.
func TestPluginAdaptersActAsSystem(t *testing.T) {
	s := openTestSite(t)
	ctx := context.Background()
	if _, err := s.Content.CreateCollection(ctx, cms.CollectionInput{Name: "notes", Label: "Notes",
		Fields: []*cms.Field{{Name: "title", Type: cms.TypeString, Required: true}}}); err != nil {
		t.Fatal(err)
	}
	content := pluginContent{s.Content}
	v, err := content.Create(ctx, "notes", map[string]any{"title": "from a plugin"})
	if err != nil {
		t.Fatal(err)
	}
	e := v.(*cms.Entry)
	if e.AuthorID != "" {
		t.Errorf("plugin-created entry has author %q", e.AuthorID)
	}
	if _, err := content.Update(ctx, "notes", e.ID, map[string]any{"title": "changed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := content.Create(ctx, "notes", map[string]any{}); err == nil {
		t.Error("an invalid create was accepted")
	}
	page, err := content.List(ctx, "notes", plugins.ListOptions{Limit: 10})
	if err != nil || len(page.(*cms.EntryPage).Items) != 1 {
		t.Fatalf("list = %v, %v", page, err)
	}
	if _, err := content.List(ctx, "notes", plugins.ListOptions{Limit: 1000}); err == nil {
		t.Error("a list over the limit was accepted")
	}
	if err := content.Delete(ctx, "notes", e.ID); err != nil {
		t.Fatal(err)
	}
	got, err := content.Get(ctx, "notes", e.ID)
	if err != nil || got.(*cms.Entry).Status != cms.StatusTrashed {
		t.Fatalf("after delete: %v, %v", got, err)
	}
	if missing, err := content.Get(ctx, "notes", "nope"); missing != nil || err != nil {
		t.Fatalf("missing entry = %v, %v; want null", missing, err)
	}

	var dot bytes.Buffer
	if err := pngEncode(&dot); err != nil {
		t.Fatal(err)
	}
	media := pluginMedia{s.Media}
	mv, err := media.Upload(ctx, plugins.MediaUpload{Filename: "dot.png", MimeType: "image/png", Data: dot.Bytes(), Alt: "a dot"})
	if err != nil {
		t.Fatal(err)
	}
	m := mv.(*cms.Media)
	if m.OwnerID != "" || m.Alt != "a dot" {
		t.Errorf("plugin upload = %+v", m)
	}
	if _, err := media.Upload(ctx, plugins.MediaUpload{Filename: "x.exe", Data: []byte("MZ\x90\x00")}); err == nil {
		t.Error("an unsniffable upload was accepted")
	}
	if err := media.Delete(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if gone, err := media.Get(ctx, m.ID); gone != nil || err != nil {
		t.Fatalf("deleted media = %v, %v", gone, err)
	}
}

func pngEncode(b *bytes.Buffer) error {
	return png.Encode(b, image.NewRGBA(image.Rect(0, 0, 2, 2)))
}

// Every entry the CMS accepts can go to a hook and come back: a json field
// at its bound, inside the data object, inside the event.
func TestCMSDepthFitsTheSandbox(t *testing.T) {
	if out := cms.MaxJSONFieldDepth + 1; out > sandbox.DefaultLimits.MaxDepth {
		t.Errorf("a returned entry nests %d levels, the sandbox sends at most %d", out, sandbox.DefaultLimits.MaxDepth)
	}
	if in := cms.MaxJSONFieldDepth + 2; in > sandbox.MaxJSONDepth {
		t.Errorf("an event nests %d levels, the isolate takes at most %d", in, sandbox.MaxJSONDepth)
	}
}

// The default pool is two workers per CPU, within its bounds.
func TestDefaultPoolSize(t *testing.T) {
	for _, tt := range []struct{ procs, want int }{
		{1, 2}, {2, 4}, {3, 6}, {4, 8}, {16, 8},
	} {
		if got := poolSizeFor(tt.procs); got != tt.want {
			t.Errorf("poolSizeFor(%d) = %d, want %d", tt.procs, got, tt.want)
		}
	}
	if got := DefaultPoolSize(); got < MinDefaultPoolSize || got > MaxDefaultPoolSize {
		t.Errorf("DefaultPoolSize() = %d, outside [%d, %d]", got, MinDefaultPoolSize, MaxDefaultPoolSize)
	}
}
