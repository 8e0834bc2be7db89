package cms

import (
	"context"
	"testing"
)

// BenchmarkPublicEntryCacheHit is the hot path of the public get-by-slug
// route when the entry is cached: with the generation check, a cache hit
// pays one atomic load more than before it.
//
//	go test ./cms -run '^$' -bench PublicEntryCacheHit -count 6
func BenchmarkPublicEntryCacheHit(b *testing.B) {
	ctx := context.Background()
	c, _ := newContentEnv(b)
	public := true
	mustCollection(b, c, CollectionInput{Name: "posts", Label: "Posts", Options: &OptionsInput{Public: &public},
		Fields: []*Field{{Name: "title", Type: TypeString, Required: true}, {Name: "slug", Type: TypeSlug, From: "title"}}})
	e, err := c.CreateEntry(ctx, nil, "posts", map[string]any{"title": "Hello"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Publish(ctx, nil, "posts", e.ID, nil, 0); err != nil {
		b.Fatal(err)
	}
	if _, err := c.PublicEntry(ctx, "posts", "hello"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.PublicEntry(ctx, "posts", "hello"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
