package cms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// Writers racing on one entry: every save either lands on the version it
// read or is refused as stale, so a read-modify-write counter loses no
// increment, versions advance by one per save and revision numbers stay
// 1…n without a gap or a duplicate. On SQLite the single writer makes this
// so; on PostgreSQL the serializable transactions (run again on conflict)
// and the revisions' primary key.
func TestConcurrentSavesOfOneEntry(t *testing.T) {
	ctx := context.Background()
	c, _ := newContentEnv(t)
	mustCollection(t, c, testPosts)
	e, err := c.CreateEntry(ctx, nil, "posts", map[string]any{"title": "Counter", "views": 0})
	if err != nil {
		t.Fatal(err)
	}
	const writers, saves = 6, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < saves; {
				cur, err := c.GetEntry(ctx, nil, "posts", e.ID)
				if err != nil {
					errs <- err
					return
				}
				views := cur.Data["views"]
				n, err := asInt(views)
				if err != nil {
					errs <- err
					return
				}
				_, err = c.UpdateEntry(ctx, nil, "posts", e.ID, map[string]any{"views": n + 1, "title": fmt.Sprintf("Counter by %d", w)}, cur.Version)
				if errors.Is(err, ErrConflict) {
					continue // someone else saved first: read again
				}
				if err != nil {
					errs <- err
					return
				}
				done++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	final, err := c.GetEntry(ctx, nil, "posts", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := asInt(final.Data["views"]); n != writers*saves {
		t.Errorf("views = %v after %d saves: increments were lost", final.Data["views"], writers*saves)
	}
	if final.Version != 1+writers*saves {
		t.Errorf("version %d, want %d", final.Version, 1+writers*saves)
	}
	revs, err := c.Revisions(ctx, nil, "posts", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	versions := map[int64]bool{}
	for _, r := range revs {
		nums = append(nums, r.Rev)
		if versions[r.EntryVersion] {
			t.Errorf("two revisions of entry version %d", r.EntryVersion)
		}
		versions[r.EntryVersion] = true
	}
	slices.Sort(nums)
	for i, n := range nums {
		if n != i+1 {
			t.Fatalf("revision numbers %v, want 1…%d", nums, len(nums))
		}
	}
	if len(nums) != 1+writers*saves {
		t.Errorf("%d revisions, want %d", len(nums), 1+writers*saves)
	}
}

func asInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		return int(x), nil
	case interface{ Int64() (int64, error) }:
		n, err := x.Int64()
		return int(n), err
	}
	return 0, fmt.Errorf("views is %T %v, not a number", v, v)
}

// Creators racing for one slug or one unique value: generated slugs come
// out distinct (the title's slug, then -2, -3, …), a given slug and a
// unique field's value are granted to exactly one, the others refused with
// the validation error a sequential save gets, never a 500.
func TestConcurrentCreatesOfOneSlug(t *testing.T) {
	ctx := context.Background()
	c, _ := newContentEnv(t)
	mustCollection(t, c, CollectionInput{Name: "pages", Label: "Pages", Fields: []*Field{
		{Name: "title", Type: TypeString, Required: true},
		{Name: "slug", Type: TypeSlug, From: "title"},
		{Name: "code", Type: TypeString, Unique: true},
	}})
	const n = 6
	race := func(data func(i int) map[string]any) (slugs []string, refused []error) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, err := c.CreateEntry(ctx, nil, "pages", data(i))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					refused = append(refused, err)
					return
				}
				slugs = append(slugs, e.Slug)
			}()
		}
		wg.Wait()
		slices.Sort(slugs)
		return slugs, refused
	}

	slugs, refused := race(func(i int) map[string]any { return map[string]any{"title": "Same Title"} })
	if len(refused) > 0 {
		t.Fatalf("generated slugs: %v", refused)
	}
	want := []string{"same-title", "same-title-2", "same-title-3", "same-title-4", "same-title-5", "same-title-6"}
	if !slices.Equal(slugs, want) {
		t.Errorf("generated slugs %v, want %v", slugs, want)
	}

	for _, tc := range []struct {
		name string
		data func(i int) map[string]any
		path string
	}{
		{"given slug", func(i int) map[string]any { return map[string]any{"title": fmt.Sprint("T", i), "slug": "taken"} }, "/data/slug"},
		{"unique value", func(i int) map[string]any { return map[string]any{"title": fmt.Sprint("U", i), "code": "X1"} }, "/data/code"},
	} {
		slugs, refused := race(tc.data)
		if len(slugs) != 1 || len(refused) != n-1 {
			t.Errorf("%s: %d created (%v), %d refused, want 1 and %d", tc.name, len(slugs), slugs, len(refused), n-1)
		}
		for _, err := range refused {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Path != tc.path {
				t.Errorf("%s: refused with %v, want a validation error at %s", tc.name, err, tc.path)
			}
		}
	}
}
