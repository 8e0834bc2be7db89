package cms

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestEntriesByID: the batch read behind ?expand= checks the reader like any
// read, splits long id lists, skips trashed entries and unknown ids; its
// public twin sees only a public collection's published copies.
func TestEntriesByID(t *testing.T) {
	ctx := context.Background()
	c, _ := newContentEnv(t)
	in := testPosts
	in.Fields = testPosts.Fields[:3]
	mustCollection(t, c, in)
	var ids []string
	for i := range maxBatchIDs + 3 {
		e, err := c.CreateEntry(ctx, nil, "posts", map[string]any{"title": fmt.Sprintf("Post %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if _, err := c.Publish(ctx, nil, "posts", ids[0], nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Trash(ctx, nil, "posts", ids[1], 0); err != nil {
		t.Fatal(err)
	}
	ask := append(append([]string{}, ids...), ids[2], "0190d6a8-0000-7000-8000-000000000000")

	got, err := c.EntriesByID(ctx, &User{Role: RoleAuthor}, "posts", ask)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids)-1 || got[ids[1]] != nil || got[ids[len(ids)-1]].Data["title"] != fmt.Sprintf("Post %d", len(ids)-1) {
		t.Errorf("EntriesByID: %d entries (want %d, the trashed one left out)", len(got), len(ids)-1)
	}
	// A reader without content:read gets nothing: the same rule as GET.
	if _, err := c.EntriesByID(ctx, &User{Role: Role("guest")}, "posts", ids); !errors.Is(err, ErrForbidden) {
		t.Errorf("EntriesByID for a role without content:read: %v, want ErrForbidden", err)
	}

	pub, err := c.PublicEntriesByID(ctx, "posts", ask)
	if err != nil || len(pub) != 0 {
		t.Errorf("PublicEntriesByID on a private collection = %d, %v; want none", len(pub), err)
	}
	yes := true
	if _, err := c.UpdateCollection(ctx, "posts", CollectionPatch{Options: &OptionsInput{Public: &yes}}); err != nil {
		t.Fatal(err)
	}
	pub, err = c.PublicEntriesByID(ctx, "posts", ask)
	if err != nil || len(pub) != 1 || pub[ids[0]] == nil {
		t.Errorf("PublicEntriesByID on a public collection = %d, %v; want only the published entry", len(pub), err)
	}
}
