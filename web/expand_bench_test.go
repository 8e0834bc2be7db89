package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/web"
)

// The cost of ?expand= on a 20-entry list, over HTTP on loopback, side by
// side with the same list unexpanded: each entry references its own author
// (20 distinct people) and its own image, so expansion is two batch reads.
//
//	go test ./web/ -run '^$' -bench 'BenchmarkExpand' -benchtime 2000x
func BenchmarkExpand(b *testing.B) {
	ctx := context.Background()
	st, err := site.Open(ctx, site.Config{DataDir: b.TempDir(), Web: web.DefaultConfig(), PasswordParams: cheapPasswords})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	yes := true
	pub := &cms.OptionsInput{Public: &yes}
	fields := func(extra ...*cms.Field) []*cms.Field {
		return append([]*cms.Field{{Name: "title", Type: cms.TypeString}, {Name: "slug", Type: cms.TypeSlug, From: "title"},
			{Name: "body", Type: cms.TypeMarkdown}}, extra...)
	}
	if _, err := st.Content.CreateCollection(ctx, cms.CollectionInput{Name: "people", Label: "People", Options: pub, Fields: fields()}); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Content.CreateCollection(ctx, cms.CollectionInput{Name: "stories", Label: "Stories", Options: pub, Fields: fields(
		&cms.Field{Name: "author", Type: cms.TypeReference, Collection: "people"}, &cms.Field{Name: "cover", Type: cms.TypeMedia})}); err != nil {
		b.Fatal(err)
	}
	u, err := st.Users.Create(ctx, cms.NewUser{Email: "bench@example.com", Name: "Bench", Role: cms.RoleAdmin, Password: testPassword})
	if err != nil {
		b.Fatal(err)
	}
	_, token, err := st.Auth.CreateToken(ctx, u, cms.NewToken{Name: "bench"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	png := testPNG(b, 8, 8)
	for i := range 20 {
		person, err := st.Content.CreateEntry(ctx, u, "people", map[string]any{"title": fmt.Sprintf("Person %d", i), "body": "A *short* bio."})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Content.Publish(ctx, u, "people", person.ID, nil, 0); err != nil {
			b.Fatal(err)
		}
		rec, err := st.Media.Receive(ctx, u, cms.MediaUpload{Filename: fmt.Sprintf("c%d.png", i), Size: int64(len(png)), Body: bytes.NewReader(png)})
		if err != nil {
			b.Fatal(err)
		}
		m, err := st.Media.Commit(ctx, rec, "cover", "")
		if err != nil {
			b.Fatal(err)
		}
		e, err := st.Content.CreateEntry(ctx, u, "stories", map[string]any{"title": fmt.Sprintf("Story %d", i),
			"body": "Some **markdown** text.", "author": person.ID, "cover": m.ID})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Content.Publish(ctx, u, "stories", e.ID, nil, 0); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(st.Handler())
	defer srv.Close()
	for _, tc := range []struct{ name, path string }{
		{"public/plain", "/api/public/stories?limit=20"},
		{"public/expand", "/api/public/stories?limit=20&expand=author,cover"},
		{"public/expand+render", "/api/public/stories?limit=20&expand=author,cover&render=html"},
		{"private/plain", "/api/collections/stories/entries?limit=20"},
		{"private/expand", "/api/collections/stories/entries?limit=20&expand=author,cover"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			for b.Loop() {
				res, err := http.DefaultClient.Do(req)
				if err != nil || res.StatusCode != http.StatusOK {
					b.Fatalf("%s: %v %v", tc.path, err, res)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
}
