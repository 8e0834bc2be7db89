package storage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// itemsIndexes is the collection most tests use.
var itemsIndexes = []StorageIndex{
	{Fields: []string{"kind"}},
	{Fields: []string{"n"}},
	{Fields: []string{"name"}},
	{Fields: []string{"kind", "n"}},
	{Fields: []string{"email"}, Unique: true},
}

func docsStore(t testing.TB, indexes []StorageIndex) *PluginData {
	t.Helper()
	pd := NewPluginData(openTestDB(t))
	if err := pd.SyncIndexes(context.Background(), "p", []StorageCollection{{Name: "items", Indexes: indexes}}, true); err != nil {
		t.Fatal(err)
	}
	return pd
}

func put(t testing.TB, pd *PluginData, id, data string) {
	t.Helper()
	if err := pd.DocPut(context.Background(), "p", "items", id, json.RawMessage(data), 0); err != nil {
		t.Fatalf("put %s: %v", id, err)
	}
}

func query(t testing.TB, pd *PluginData, raw string) (*DocPage, error) {
	t.Helper()
	q, err := ParseDocQuery(json.RawMessage(raw))
	if err != nil {
		return nil, err
	}
	return pd.DocQuery(context.Background(), "p", "items", q)
}

func ids(docs []Doc) string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return strings.Join(out, ",")
}

func TestNumberKeysSortNumerically(t *testing.T) {
	nums := []float64{math.Inf(-1), -1e300, -2.5, -1, -math.SmallestNonzeroFloat64, 0, math.SmallestNonzeroFloat64, 0.5, 1, 2, 10, 1e21, math.MaxFloat64}
	for i := 1; i < len(nums); i++ {
		if bytes.Compare(numberKey(nums[i-1]), numberKey(nums[i])) >= 0 {
			t.Errorf("key(%g) >= key(%g)", nums[i-1], nums[i])
		}
	}
	if !bytes.Equal(numberKey(math.Copysign(0, -1)), numberKey(0)) {
		t.Error("-0 and 0 have different keys")
	}
	order := [][]byte{nullKey, boolKey(false), boolKey(true), numberKey(-1e300), numberKey(1e300), stringKey(""), stringKey("a"), stringKey("a\x00"), stringKey("b"), stringKey("é"), stringKey("😀")}
	for i := 1; i < len(order); i++ {
		if bytes.Compare(order[i-1], order[i]) >= 0 {
			t.Errorf("type order broken at %d: %x >= %x", i, order[i-1], order[i])
		}
	}
	for _, f := range []float64{-2.5, 0, 1e21, 3} {
		if got := describeKey(numberKey(f)); got != fmt.Sprint(f) {
			t.Errorf("describeKey(%g) = %s", f, got)
		}
	}
}

func TestDocQueryOperators(t *testing.T) {
	pd := docsStore(t, itemsIndexes)
	docs := map[string]string{
		"a": `{"kind":"post","n":1,"name":"apple"}`,
		"b": `{"kind":"post","n":2,"name":"apricot"}`,
		"c": `{"kind":"page","n":3,"name":"banana"}`,
		"d": `{"kind":"page","n":-4.5,"name":"ap%_x"}`,
		"e": `{"kind":null,"n":"7","name":"Apple"}`,
		"f": `{"n":true,"name":"a"}`,
		"g": `{"kind":"post","n":10,"name":"apple pie","extra":{"deep":[1,2]}}`,
	}
	for id, d := range docs {
		put(t, pd, id, d)
	}
	cases := []struct{ where, want string }{
		{`{}`, "a,b,c,d,e,f,g"},
		{`{"kind":"post"}`, "a,b,g"},
		{`{"kind":null}`, "e,f"}, // null and absent are one
		{`{"n":2}`, "b"},
		{`{"n":"7"}`, "e"}, // a string is not a number
		{`{"n":7}`, ""},
		{`{"n":true}`, "f"},
		{`{"n":{"gt":1}}`, "b,c,g"}, // numbers only: not "7", not true
		{`{"n":{"gte":1}}`, "a,b,c,g"},
		{`{"n":{"lt":2}}`, "a,d"},
		{`{"n":{"lte":2}}`, "a,b,d"},
		{`{"n":{"gt":1,"lte":3}}`, "b,c"},
		{`{"n":{"gt":1,"gte":2}}`, "b,c,g"},
		{`{"n":{"gt":3,"lt":3}}`, ""},
		{`{"n":{"gte":-4.5,"lt":0}}`, "d"},
		{`{"n":{"gte":"0"}}`, "e"}, // string range: strings only
		{`{"n":{"in":[1,3,"7",true]}}`, "a,c,e,f"},
		{`{"kind":{"in":["page",null]}}`, "c,d,e,f"},
		{`{"name":{"startsWith":"ap"}}`, "a,b,d,g"}, // case-sensitive, % and _ literal
		{`{"name":{"startsWith":"ap%"}}`, "d"},
		{`{"name":{"startsWith":"ap%_"}}`, "d"},
		{`{"name":{"startsWith":""}}`, "a,b,c,d,e,f,g"},
		{`{"name":{"startsWith":"apple"}}`, "a,g"},
		{`{"name":{"startsWith":"apple","lt":"apple pie"}}`, "a"},
		{`{"kind":"post","n":{"gte":2}}`, "b,g"},
		{`{"kind":"post","name":{"startsWith":"apr"}}`, "b"}, // two indexes joined
		{`{"kind":"page","n":{"in":[3,-4.5]},"name":"banana"}`, "c"},
	}
	for _, tc := range cases {
		page, err := query(t, pd, `{"where":`+tc.where+`,"limit":1000}`)
		if err != nil {
			t.Errorf("where %s: %v", tc.where, err)
			continue
		}
		got := strings.Split(ids(page.Items), ",")
		slices.Sort(got)
		if s := strings.Join(got, ","); s != tc.want {
			t.Errorf("where %s = %s, want %s", tc.where, s, tc.want)
		}
		var w map[string]json.RawMessage
		_ = json.Unmarshal([]byte(tc.where), &w)
		conds, err := ParseWhere(json.RawMessage(tc.where))
		if err != nil {
			t.Fatal(err)
		}
		n, err := pd.DocCount(context.Background(), "p", "items", conds)
		want := 0
		if tc.want != "" {
			want = len(strings.Split(tc.want, ","))
		}
		if err != nil || n != want {
			t.Errorf("count %s = %d, %v; want %d", tc.where, n, err, want)
		}
	}
}

// TestDocQueryOrders compares every order a query can ask for with the same
// order computed in Go, walking pages of several sizes.
func TestDocQueryOrders(t *testing.T) {
	pd := docsStore(t, []StorageIndex{
		{Fields: []string{"a", "b"}},
		{Fields: []string{"c"}},
		{Fields: []string{"b"}},
	})
	type doc struct {
		id   string
		a, b float64
		c    string
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var all []doc
	for i := range 120 {
		d := doc{id: fmt.Sprintf("d%03d", rng.IntN(1000)*1000+i), a: float64(rng.IntN(4)), b: float64(rng.IntN(5)) - 2, c: string(rune('p' + rng.IntN(3)))}
		all = append(all, d)
		put(t, pd, d.id, fmt.Sprintf(`{"a":%g,"b":%g,"c":%q}`, d.a, d.b, d.c))
	}
	compare := func(x, y doc, f string) int {
		switch f {
		case "a":
			return cmp.Compare(x.a, y.a)
		case "b":
			return cmp.Compare(x.b, y.b)
		default:
			return strings.Compare(x.c, y.c)
		}
	}
	cases := []struct {
		order string
		keys  []OrderField
		where string
		match func(doc) bool
	}{
		{order: `{"a":"asc","b":"asc"}`, keys: []OrderField{{"a", false}, {"b", false}}},
		{order: `{"a":"desc","b":"desc"}`, keys: []OrderField{{"a", true}, {"b", true}}},
		{order: `{"a":"asc","b":"desc"}`, keys: []OrderField{{"a", false}, {"b", true}}},
		{order: `[{"a":"desc"},"b"]`, keys: []OrderField{{"a", true}, {"b", false}}},
		{order: `["-c","a","-b"]`, keys: []OrderField{{"c", true}, {"a", false}, {"b", true}}},
		{order: `"b"`, keys: []OrderField{{"b", false}}},
		{order: `{"b":"desc"}`, keys: []OrderField{{"b", true}}, where: `{"a":2}`, match: func(d doc) bool { return d.a == 2 }},
		{order: `{"a":"asc","b":"desc"}`, keys: []OrderField{{"b", true}}, where: `{"a":1}`, match: func(d doc) bool { return d.a == 1 }},
		{order: `{"c":"asc"}`, keys: []OrderField{{"c", false}}, where: `{"a":{"gte":1},"b":{"lt":1}}`, match: func(d doc) bool { return d.a >= 1 && d.b < 1 }},
		{order: `{"a":"desc"}`, keys: []OrderField{{"a", true}}, where: `{"c":{"in":["p","r"]}}`, match: func(d doc) bool { return d.c != "q" }},
	}
	for _, tc := range cases {
		var want []doc
		for _, d := range all {
			if tc.match == nil || tc.match(d) {
				want = append(want, d)
			}
		}
		// The requested keys order the result; ties come in a stable order
		// of the host's choosing (the serving index's further fields, then
		// the id), the same for every page size.
		byKeys := func(x, y doc) int {
			for _, k := range tc.keys {
				if c := compare(x, y, k.Field); c != 0 {
					if k.Desc {
						return -c
					}
					return c
				}
			}
			return 0
		}
		byID := map[string]doc{}
		for _, d := range want {
			byID[d.id] = d
		}
		var first []string
		for _, size := range []int{1, 7, 50, 1000} {
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				q := fmt.Sprintf(`{"orderBy":%s,"limit":%d`, tc.order, size)
				if tc.where != "" {
					q += `,"where":` + tc.where
				}
				if cursor != "" {
					q += `,"cursor":"` + cursor + `"`
				}
				page, err := query(t, pd, q+"}")
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				for _, d := range page.Items {
					got = append(got, d.ID)
				}
				if page.Cursor == "" {
					break
				}
				if pages > len(all) {
					t.Fatalf("%s: paging does not end", q)
				}
				cursor = page.Cursor
			}
			if len(got) != len(want) || !slices.IsSortedFunc(got, func(x, y string) int { return byKeys(byID[x], byID[y]) }) {
				t.Errorf("orderBy %s where %s, pages of %d: %d of %d documents, or not in order: %v", tc.order, tc.where, size, len(got), len(want), got)
			}
			seen := map[string]bool{}
			for _, id := range got {
				if _, ok := byID[id]; !ok || seen[id] {
					t.Errorf("orderBy %s where %s: %s unexpected or repeated", tc.order, tc.where, id)
				}
				seen[id] = true
			}
			if first == nil {
				first = got
			} else if !slices.Equal(got, first) {
				t.Errorf("orderBy %s where %s: pages of %d give another order than pages of 1", tc.order, tc.where, size)
			}
		}
	}
}

// TestDocQueryCursorStableUnderInserts walks pages while another goroutine
// inserts: every document that existed before the walk is seen exactly
// once, and nothing is seen twice.
func TestDocQueryCursorStableUnderInserts(t *testing.T) {
	pd := docsStore(t, []StorageIndex{{Fields: []string{"score"}}, {Fields: []string{"kind", "score"}}})
	rng := rand.New(rand.NewPCG(3, 4))
	before := map[string]bool{}
	for i := range 300 {
		id := fmt.Sprintf("old%04d", i)
		before[id] = true
		put(t, pd, id, fmt.Sprintf(`{"kind":"x","score":%d}`, rng.IntN(50)))
	}
	for _, order := range []string{`{"score":"desc"}`, `{"score":"asc"}`} {
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Go(func() {
			r := rand.New(rand.NewPCG(5, 6))
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("new%s%05d", order[2:7], i)
				if err := pd.DocPut(context.Background(), "p", "items", id, json.RawMessage(fmt.Sprintf(`{"kind":"x","score":%d}`, r.IntN(50))), 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
		seen := map[string]int{}
		cursor := ""
		for {
			q := `{"where":{"kind":"x"},"orderBy":` + order + `,"limit":13`
			if cursor != "" {
				q += `,"cursor":"` + cursor + `"`
			}
			page, err := query(t, pd, q+"}")
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Items {
				seen[d.ID]++
			}
			if page.Cursor == "" {
				break
			}
			cursor = page.Cursor
		}
		stop.Store(true)
		wg.Wait()
		for id, n := range seen {
			if n > 1 {
				t.Errorf("order %s: %s seen %d times", order, id, n)
			}
		}
		for id := range before {
			if seen[id] != 1 {
				t.Errorf("order %s: pre-existing %s skipped", order, id)
			}
		}
	}
}

func TestDocUniqueIndex(t *testing.T) {
	ctx := context.Background()
	pd := docsStore(t, []StorageIndex{{Fields: []string{"email"}, Unique: true}, {Fields: []string{"org", "slug"}, Unique: true}})
	put(t, pd, "u1", `{"email":"a@x","org":"o","slug":"s"}`)
	put(t, pd, "u1", `{"email":"a@x","org":"o","slug":"s","v":2}`) // replacing itself is fine
	put(t, pd, "u2", `{"email":null,"org":"o"}`)                   // nulls never collide
	put(t, pd, "u3", `{"org":"o"}`)
	err := pd.DocPut(ctx, "p", "items", "u4", json.RawMessage(`{"email":"a@x"}`), 0)
	if !errors.Is(err, ErrUnique) || !strings.Contains(err.Error(), "unique index email") || !strings.Contains(err.Error(), `"u1"`) {
		t.Fatalf("duplicate email: %v", err)
	}
	err = pd.DocPut(ctx, "p", "items", "u4", json.RawMessage(`{"org":"o","slug":"s"}`), 0)
	if !errors.Is(err, ErrUnique) || !strings.Contains(err.Error(), "unique index [org, slug]") {
		t.Fatalf("duplicate [org, slug]: %v", err)
	}
	put(t, pd, "u4", `{"email":"A@x","org":"o","slug":"t"}`) // case matters; other slug

	// A batch with one violation writes nothing: not the documents before
	// it, not their index rows, not their bytes.
	usage, _ := pd.Usage(ctx, "p")
	batch := []DocInput{
		{ID: "b1", Data: json.RawMessage(`{"email":"b1@x"}`)},
		{ID: "u1", Data: json.RawMessage(`{"email":"changed@x"}`)},
		{ID: "b2", Data: json.RawMessage(`{"email":"b1@x"}`)}, // collides inside the batch
	}
	if err := pd.DocPutMany(ctx, "p", "items", batch, 0); !errors.Is(err, ErrUnique) || !strings.Contains(err.Error(), `"b2"`) {
		t.Fatalf("batch with a duplicate: %v", err)
	}
	batch[2].Data = json.RawMessage(`{"email":"a@x"}`) // collides with u1's old value, which the batch changes first
	if err := pd.DocPutMany(ctx, "p", "items", batch, 0); err != nil {
		t.Fatalf("batch moving a unique value: %v", err)
	}
	if d, _ := pd.DocGet(ctx, "p", "items", "u1"); string(d.Data) != `{"email":"changed@x"}` {
		t.Fatalf("u1 after batch: %s", d.Data)
	}
	batch = []DocInput{{ID: "c1", Data: json.RawMessage(`{"email":"c1@x"}`)}, {ID: "c2", Data: json.RawMessage(`{"email":"changed@x"}`)}}
	if err := pd.DocPutMany(ctx, "p", "items", batch, 0); !errors.Is(err, ErrUnique) {
		t.Fatalf("second batch: %v", err)
	}
	if ok, _ := pd.DocExists(ctx, "p", "items", "c1"); ok {
		t.Fatal("a failed batch left its first document")
	}
	page, err := query(t, pd, `{"where":{"email":"c1@x"}}`)
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("a failed batch left index rows: %v %v", page, err)
	}
	after, _ := pd.Usage(ctx, "p")
	if after <= usage {
		t.Fatalf("usage did not grow with the successful batch: %d -> %d", usage, after)
	}
	var keyRows int
	_ = pd.db.Read().QueryRow(`SELECT COUNT(*) FROM plugin_doc_keys k JOIN plugin_storage_indexes i ON i.id = k.index_id WHERE i.plugin_id = 'p'`).Scan(&keyRows)
	var docRows int
	_ = pd.db.Read().QueryRow(`SELECT COUNT(*) FROM plugin_docs WHERE plugin_id = 'p'`).Scan(&docRows)
	if keyRows != 2*docRows {
		t.Fatalf("%d key rows for %d documents and 2 indexes", keyRows, docRows)
	}
	// Deleting frees the value.
	if n, err := pd.DocDeleteMany(ctx, "p", "items", []string{"u1", "nope", "b2"}); err != nil || n != 2 {
		t.Fatalf("deleteMany: %d, %v", n, err)
	}
	put(t, pd, "c2", `{"email":"changed@x"}`)
}

func TestDocQuota(t *testing.T) {
	ctx := context.Background()
	pd := docsStore(t, []StorageIndex{{Fields: []string{"n"}}})
	const quota = 1000
	doc := func(size int) json.RawMessage {
		return json.RawMessage(`{"s":"` + strings.Repeat("x", size-8) + `"}`)
	}
	if err := pd.DocPut(ctx, "p", "items", "a", doc(400), quota); err != nil { // 401 bytes with the id
		t.Fatal(err)
	}
	if err := pd.KVSet(ctx, "p", "k", doc(400), quota); err != nil { // 802 bytes
		t.Fatal(err)
	}
	err := pd.DocPut(ctx, "p", "items", "b", doc(400), quota)
	if !errors.Is(err, ErrQuota) || !strings.Contains(err.Error(), "limits.storageBytes") || !strings.Contains(err.Error(), "1000") {
		t.Fatalf("write past the quota: %v", err)
	}
	if ok, _ := pd.DocExists(ctx, "p", "items", "b"); ok {
		t.Fatal("the refused document was written")
	}
	if err := pd.KVSet(ctx, "p", "k2", doc(400), quota); !errors.Is(err, ErrQuota) {
		t.Fatalf("kv past the quota: %v", err)
	}
	if err := pd.DocPutMany(ctx, "p", "items", []DocInput{{ID: "c", Data: doc(50)}, {ID: "d", Data: doc(300)}}, quota); !errors.Is(err, ErrQuota) {
		t.Fatalf("batch past the quota: %v", err)
	}
	if ok, _ := pd.DocExists(ctx, "p", "items", "c"); ok {
		t.Fatal("a refused batch wrote its first document")
	}
	// Replacing a document counts the difference; shrinking always works.
	if err := pd.DocPut(ctx, "p", "items", "a", doc(100), quota); err != nil {
		t.Fatal(err)
	}
	if err := pd.DocPut(ctx, "p", "items", "b", doc(400), quota); err != nil {
		t.Fatalf("after shrinking a: %v", err)
	}
	if u, _ := pd.Usage(ctx, "p"); u != 101+401+401 {
		t.Fatalf("usage %d, want %d", u, 101+401+401)
	}
	// Deletes free quota.
	if _, err := pd.DocDelete(ctx, "p", "items", "b"); err != nil {
		t.Fatal(err)
	}
	if err := pd.KVDelete(ctx, "p", "k"); err != nil {
		t.Fatal(err)
	}
	if u, _ := pd.Usage(ctx, "p"); u != 101 {
		t.Fatalf("usage after deletes %d, want 101", u)
	}
	if err := pd.DocPut(ctx, "p", "items", "e", doc(800), quota); err != nil {
		t.Fatalf("after deletes: %v", err)
	}
	// Other plugins have their own quota.
	if err := pd.DocPut(ctx, "q", "items", "a", doc(900), quota); err != nil {
		t.Fatal(err)
	}
	if err := pd.DeleteAll(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if u, _ := pd.Usage(ctx, "p"); u != 0 {
		t.Fatalf("usage after DeleteAll %d", u)
	}
}

func TestDocHostileInput(t *testing.T) {
	pd := docsStore(t, itemsIndexes)
	put(t, pd, "a", `{"kind":"post","n":1}`)
	deep := strings.Repeat(`{"gt":`, 5000) + "1" + strings.Repeat("}", 5000)
	many := make([]string, MaxInValues+1)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	queries := map[string]string{
		"not an object":        `[1]`,
		"unknown option":       `{"filter":{}}`,
		"where array":          `{"where":[1]}`,
		"unindexed field":      `{"where":{"secret":1}}`,
		"unindexed order":      `{"orderBy":{"secret":"asc"}}`,
		"hostile field":        `{"where":{"kind') OR 1=1 --":1}}`,
		"dotted field":         `{"where":{"a.b":1}}`,
		"unknown operator":     `{"where":{"n":{"ne":1}}}`,
		"operator object":      `{"where":{"n":{"gt":{"x":1}}}}`,
		"deep where":           `{"where":{"n":` + deep + `}}`,
		"empty condition":      `{"where":{"n":{}}}`,
		"array value":          `{"where":{"n":[1,2]}}`,
		"in not array":         `{"where":{"n":{"in":1}}}`,
		"in empty":             `{"where":{"n":{"in":[]}}}`,
		"in huge":              `{"where":{"n":{"in":[` + strings.Join(many, ",") + `]}}}`,
		"in nested":            `{"where":{"n":{"in":[[1]]}}}`,
		"in with gt":           `{"where":{"n":{"in":[1],"gt":0}}}`,
		"mixed range types":    `{"where":{"n":{"gt":1,"lt":"z"}}}`,
		"boolean range":        `{"where":{"n":{"gt":true}}}`,
		"null range":           `{"where":{"n":{"lt":null}}}`,
		"startsWith number":    `{"where":{"name":{"startsWith":1}}}`,
		"huge number":          `{"where":{"n":1e999}}`,
		"long value":           `{"where":{"name":"` + strings.Repeat("x", MaxIndexedValueBytes+1) + `"}}`,
		"order direction":      `{"orderBy":{"n":"up"}}`,
		"order twice":          `{"orderBy":["n","-n"]}`,
		"order number":         `{"orderBy":1}`,
		"order hostile":        `{"orderBy":"n) --"}`,
		"order nested array":   `{"orderBy":[["n"]]}`,
		"order too many":       `{"orderBy":["kind","n","name","email","x"]}`,
		"limit zero":           `{"limit":0}`,
		"limit huge":           `{"limit":1001}`,
		"limit fraction":       `{"limit":2.5}`,
		"limit string":         `{"limit":"10"}`,
		"cursor number":        `{"cursor":5}`,
		"cursor garbage":       `{"cursor":"!!!"}`,
		"cursor empty payload": `{"cursor":"AQ"}`,
		"cursor huge":          `{"cursor":"` + strings.Repeat("A", 5000) + `"}`,
	}
	for name, raw := range queries {
		_, err := query(t, pd, raw)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// Cursor tampering: flip each byte of a real cursor; and reuse it with
	// another query.
	page, err := query(t, pd, `{"where":{"kind":"post"},"orderBy":"n","limit":1}`)
	if err != nil {
		t.Fatal(err)
	}
	put(t, pd, "b", `{"kind":"post","n":2}`)
	page, err = query(t, pd, `{"where":{"kind":"post"},"orderBy":"n","limit":1}`)
	if err != nil || page.Cursor == "" {
		t.Fatalf("no cursor: %v %v", page, err)
	}
	raw := []byte(page.Cursor)
	for i := range raw {
		bad := slices.Clone(raw)
		bad[i] ^= 0x01
		if _, err := query(t, pd, `{"where":{"kind":"post"},"orderBy":"n","limit":1,"cursor":"`+string(bad)+`"}`); !errors.Is(err, ErrInvalid) {
			t.Errorf("tampered cursor byte %d: %v", i, err)
		}
	}
	for _, other := range []string{`{"where":{"kind":"page"},"orderBy":"n"`, `{"where":{"kind":"post"},"orderBy":"-n"`, `{"orderBy":"n"`} {
		if _, err := query(t, pd, other+`,"cursor":"`+page.Cursor+`"}`); !errors.Is(err, ErrBadCursor) {
			t.Errorf("cursor reused with %s: %v", other, err)
		}
	}
	if q, _ := ParseDocQuery(json.RawMessage(`{"where":{"kind":"post"},"orderBy":"n","limit":1,"cursor":"` + page.Cursor + `"}`)); true {
		if _, err := pd.DocQuery(context.Background(), "other", "items", q); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("another plugin's cursor: %v", err)
		}
	}

	// Documents and ids.
	ctx := context.Background()
	writes := map[string]struct {
		id, data string
	}{
		"empty id":        {"", `{}`},
		"long id":         {strings.Repeat("i", MaxDocIDBytes+1), `{}`},
		"bad utf-8 id":    {"a\xffb", `{}`},
		"nul in id":       {"a\x00b", `{}`},
		"array doc":       {"x", `[1]`},
		"string doc":      {"x", `"s"`},
		"not json":        {"x", `{`},
		"object in index": {"x", `{"kind":{"a":1}}`},
		"array in index":  {"x", `{"n":[1]}`},
		"long indexed":    {"x", `{"name":"` + strings.Repeat("y", MaxIndexedValueBytes+1) + `"}`},
	}
	for name, w := range writes {
		if err := pd.DocPut(ctx, "p", "items", w.id, json.RawMessage(w.data), 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// Odd but valid ids round-trip and page correctly.
	odd := []string{"' OR 1=1 --", "%", "_", "\U0010FFFF", "é", "😀", " ", "\n"}
	for _, id := range odd {
		put(t, pd, id, `{"kind":"odd"}`)
	}
	var got []string
	cursor := ""
	for {
		q := `{"where":{"kind":"odd"},"limit":3`
		if cursor != "" {
			q += `,"cursor":"` + cursor + `"`
		}
		page, err := query(t, pd, q+"}")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Items {
			got = append(got, d.ID)
		}
		if cursor = page.Cursor; cursor == "" {
			break
		}
	}
	want := slices.Clone(odd)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("odd ids paged as %q, want %q", got, want)
	}
	gm, err := pd.DocGetMany(ctx, "p", "items", append([]string{"missing"}, odd...))
	if err != nil || len(gm) != len(odd) || gm[0].ID != odd[0] {
		t.Fatalf("getMany odd ids: %d, %v", len(gm), err)
	}
	tooMany := make([]string, MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint(i)
	}
	if _, err := pd.DocGetMany(ctx, "p", "items", tooMany); !errors.Is(err, ErrInvalid) {
		t.Errorf("getMany of %d: %v", len(tooMany), err)
	}
	if _, err := pd.DocDeleteMany(ctx, "p", "items", tooMany); !errors.Is(err, ErrInvalid) {
		t.Errorf("deleteMany of %d: %v", len(tooMany), err)
	}
	if err := pd.DocPutMany(ctx, "p", "items", []DocInput{{ID: "x", Data: json.RawMessage(`{}`)}, {ID: "x", Data: json.RawMessage(`{}`)}}, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("putMany with an id twice: %v", err)
	}
	// Another plugin sees none of it.
	other, err := pd.DocQuery(ctx, "other", "items", DocQuery{})
	if err != nil || len(other.Items) != 0 {
		t.Fatalf("another plugin: %v, %v", other, err)
	}
}

func TestDocIndexSync(t *testing.T) {
	ctx := context.Background()
	pd := docsStore(t, []StorageIndex{{Fields: []string{"kind"}}})
	put(t, pd, "a", `{"kind":"x","email":"a@x","n":1}`)
	put(t, pd, "b", `{"kind":"y","email":"a@x","n":2}`)
	put(t, pd, "c", `{"kind":"y","n":{"obj":true}}`)

	if _, err := query(t, pd, `{"where":{"email":"a@x"}}`); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"email" is not indexed`) {
		t.Fatalf("query before the index exists: %v", err)
	}
	// A new index is backfilled.
	colls := []StorageCollection{{Name: "items", Indexes: []StorageIndex{{Fields: []string{"kind"}}, {Fields: []string{"email"}}}}}
	if err := pd.SyncIndexes(ctx, "p", colls, true); err != nil {
		t.Fatal(err)
	}
	page, err := query(t, pd, `{"where":{"email":"a@x"}}`)
	if err != nil || ids(page.Items) != "a,b" {
		t.Fatalf("backfilled index: %v %v", page, err)
	}
	// A unique index over duplicates fails, naming both documents, and
	// leaves everything as it was.
	colls[0].Indexes = append(colls[0].Indexes, StorageIndex{Fields: []string{"email"}, Unique: true})
	err = pd.SyncIndexes(ctx, "p", colls, true)
	var be *IndexBuildError
	if !errors.As(err, &be) || be.Collection != "items" || !be.Unique || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("unique over duplicates: %v", err)
	}
	var n int
	_ = pd.db.Read().QueryRow(`SELECT COUNT(*) FROM plugin_storage_indexes WHERE plugin_id = 'p'`).Scan(&n)
	if n != 2 {
		t.Fatalf("%d indexes after a failed sync, want 2", n)
	}
	// A value an index cannot hold fails the build too.
	err = pd.SyncIndexes(ctx, "p", []StorageCollection{{Name: "items", Indexes: []StorageIndex{{Fields: []string{"n"}}}}}, true)
	if !errors.As(err, &be) || !strings.Contains(err.Error(), `document "c"`) {
		t.Fatalf("index over an object value: %v", err)
	}
	// Dropping an index removes its rows.
	put(t, pd, "b", `{"kind":"y","email":"b@x"}`)
	if err := pd.SyncIndexes(ctx, "p", colls, true); err != nil {
		t.Fatal(err)
	}
	if err := pd.SyncIndexes(ctx, "p", []StorageCollection{{Name: "items", Indexes: []StorageIndex{{Fields: []string{"email"}, Unique: true}}}}, true); err != nil {
		t.Fatal(err)
	}
	var rows int
	_ = pd.db.Read().QueryRow(`SELECT COUNT(*) FROM plugin_doc_keys`).Scan(&rows)
	if rows != 3 {
		t.Fatalf("%d key rows after dropping two indexes, want 3", rows)
	}
	if err := pd.DocPut(ctx, "p", "items", "d", json.RawMessage(`{"email":"b@x"}`), 0); !errors.Is(err, ErrUnique) {
		t.Fatalf("the new unique index is not enforced: %v", err)
	}
	if err := pd.DeleteAll(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"plugin_doc_keys", "plugin_storage_indexes", "plugin_docs", "plugin_storage_usage"} {
		_ = pd.db.Read().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&rows)
		if rows != 0 {
			t.Errorf("%d rows left in %s after DeleteAll", rows, table)
		}
	}
}

// TestDocQueryPlans checks that the queries the docs promise to be fast are
// index range scans in SQLite's own plan: no full scan, no sort.
func TestDocQueryPlans(t *testing.T) {
	pd := docsStore(t, []StorageIndex{{Fields: []string{"status", "createdAt"}}, {Fields: []string{"score"}}})
	for i := range 200 {
		put(t, pd, fmt.Sprintf("d%d", i), fmt.Sprintf(`{"status":"s%d","createdAt":%d,"score":%d}`, i%3, i, i%17))
	}
	plans := []string{
		`{"where":{"status":"s1","createdAt":{"gte":10}},"orderBy":{"createdAt":"desc"},"limit":50}`,
		`{"where":{"score":{"gt":3,"lt":9}},"orderBy":{"score":"asc"},"limit":50}`,
		`{"where":{"status":"s1"},"limit":50}`,
		`{"orderBy":["-score"],"limit":50}`,
		`{"limit":50}`,
	}
	for _, raw := range plans {
		q, err := ParseDocQuery(json.RawMessage(raw))
		if err != nil {
			t.Fatal(err)
		}
		idxs, _ := loadIndexes(context.Background(), pd.db.Read(), "p", "items")
		pl, err := planQuery("p", "items", idxs, q.Where, q.OrderBy, true)
		if err != nil {
			t.Fatal(err)
		}
		ord := make([]string, len(pl.order))
		for i, o := range pl.order {
			ord[i] = o.expr
			if o.desc {
				ord[i] += " DESC"
			}
		}
		// With a cursor, as every page after the first.
		cond, cargs := pl.keyset(make([][]byte, len(pl.order)))
		sqlq := `SELECT d.id FROM ` + pl.from + ` WHERE ` + strings.Join(append(slices.Clip(pl.where), cond), " AND ") + ` ORDER BY ` + strings.Join(ord, ", ") + ` LIMIT 51`
		args := append(slices.Clip(pl.args), cargs...)
		if pd.db.Dialect() == Postgres {
			if plan := postgresPlan(t, pd.db, sqlq, args); strings.Contains(plan, "Sort") || strings.Contains(plan, "Seq Scan") {
				t.Errorf("%s: plan %s", raw, plan)
			}
			continue
		}
		rows, err := pd.db.Read().Query(`EXPLAIN QUERY PLAN `+sqlq, args...)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			_ = rows.Scan(&id, &parent, &unused, &detail)
			steps = append(steps, detail)
		}
		rows.Close()
		plan := strings.Join(steps, "; ")
		if strings.Contains(plan, "TEMP B-TREE") || (strings.Contains(plan, "SCAN") && !strings.Contains(plan, "SCAN d USING") && !strings.Contains(plan, "SCAN k0 USING")) {
			t.Errorf("%s: plan %s", raw, plan)
		}
	}
}

// postgresPlan is PostgreSQL's plan for query with sorting and table scans
// priced out: a Sort or Seq Scan left in it means no index can serve the
// query in order (on a small table the planner would otherwise choose them
// even where an index could).
func postgresPlan(t *testing.T, db *DB, query string, args []any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Read().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, set := range []string{`SET enable_sort = off`, `SET enable_seqscan = off`} {
		if _, err := conn.ExecContext(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	defer conn.ExecContext(ctx, `RESET ALL`)
	rows, err := conn.QueryContext(ctx, `EXPLAIN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.TrimSpace(line))
	}
	return strings.Join(lines, "; ")
}

// BenchmarkDocQuery is one indexed range query with orderBy and limit 50
// over 1,000 and 10,000 documents of one plugin (first page and a later
// page), next to a primary-key get and to the same query written the way
// documents were queried before indexes (json_extract over the plugin's
// rows), all in one run: the ratios are the result, not the times.
func BenchmarkDocQuery(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("docs=%d", n), func(b *testing.B) { benchDocQuery(b, n) })
	}
}

func benchDocQuery(b *testing.B, n int) {
	pd := docsStore(b, []StorageIndex{{Fields: []string{"status", "createdAt"}}, {Fields: []string{"createdAt"}}})
	ctx := context.Background()
	batch := make([]DocInput, 0, MaxBatch)
	for i := range n {
		batch = append(batch, DocInput{ID: fmt.Sprintf("sub_%05d", i), Data: json.RawMessage(fmt.Sprintf(
			`{"formId":"contact","status":"%s","createdAt":%d,"email":"user%d@example.com","message":"hello there, this is submission %d"}`,
			[]string{"new", "read", "spam"}[i%3], 1_700_000_000+i*60, i, i))})
		if len(batch) == MaxBatch {
			if err := pd.DocPutMany(ctx, "p", "items", batch, 0); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	// The newest half of the documents, newest first.
	since := 1_700_000_000 + n/2*60
	q, err := ParseDocQuery(json.RawMessage(fmt.Sprintf(`{"where":{"status":"new","createdAt":{"gte":%d}},"orderBy":{"createdAt":"desc"},"limit":50}`, since)))
	if err != nil {
		b.Fatal(err)
	}
	first, err := pd.DocQuery(ctx, "p", "items", q)
	if err != nil || len(first.Items) != 50 || first.Cursor == "" {
		b.Fatalf("%v %v", first, err)
	}
	b.Run("query-first-page", func(b *testing.B) {
		for b.Loop() {
			if _, err := pd.DocQuery(ctx, "p", "items", q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("query-next-page", func(b *testing.B) {
		q := q
		q.Cursor = first.Cursor
		for b.Loop() {
			if _, err := pd.DocQuery(ctx, "p", "items", q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			if _, err := pd.DocGet(ctx, "p", "items", "sub_00500"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unindexed-json-extract", func(b *testing.B) {
		for b.Loop() {
			rows, err := pd.db.Read().QueryContext(ctx, `SELECT id, data FROM plugin_docs WHERE plugin_id = ? AND collection = ?
				AND json_extract(data, '$.status') = ? AND json_extract(data, '$.createdAt') >= ?
				ORDER BY json_extract(data, '$.createdAt') DESC, id DESC LIMIT 51`, "p", "items", "new", since)
			if err != nil {
				b.Fatal(err)
			}
			k := 0
			for rows.Next() {
				k++
			}
			rows.Close()
			if k != 51 {
				b.Fatalf("%d rows", k)
			}
		}
	})
}
