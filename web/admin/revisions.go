package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-chi/chi/v5"
	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web"
)

// The revisions page reads like a history: each row says who did what
// (created, edited, published, …) and the selected revision is shown field
// by field against the one before it, text with its changed words marked.

// revisionRow is one line of the history.
type revisionRow struct {
	*cms.Revision
	// Who is the user's name, "deleted user", "plugin X" or "system".
	Who      string
	Selected bool
}

// fieldChange is one field's difference between two revisions.
type fieldChange struct {
	Label string
	// Kind is "added", "removed" or "changed".
	Kind string
	// Words is the word-level diff of a text field; Before/After the old
	// and new value of any other field, as people read it.
	Words         []wordPart
	Before, After string
	// Items is the item-level diff of a list (multiselect).
	Items []wordPart
	// BeforeMedia/AfterMedia show a media field's images.
	BeforeMedia, AfterMedia *cms.Media
}

// wordPart is a run of text that is in both versions ("eq"), only in the
// new one ("ins") or only in the old one ("del").
type wordPart struct{ Op, Text string }

type revisionsView struct {
	Collection *cms.Collection
	Entry      *cms.Entry
	Title      string
	Rows       []revisionRow
	// Sel is the revision shown; Base the one it is compared with (nil when
	// Sel is the first, compared with nothing).
	Sel, Base *revisionRow
	// Skipped says the revisions between Base and Sel have Sel's content
	// (they only changed the status), so the comparison reaches back past
	// them.
	Skipped   []int
	Changes   []fieldChange
	Unchanged int
	// From/To echo the "compare any two" form.
	From, To int
	// CanEdit offers restoring a revision.
	CanEdit bool
}

// maxRevisionWalk bounds how far back the default comparison looks for a
// revision whose content differs from the selected one.
const maxRevisionWalk = 50

func (s *UI) handleAdminRevisions(w http.ResponseWriter, r *http.Request) {
	ctx, u := r.Context(), web.CurrentUser(r)
	col, err := s.svc.Content.Collection(ctx, chi.URLParam(r, "col"))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	e, err := s.svc.Content.GetEntry(ctx, u, col.Name, id)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	revs, err := s.svc.Content.Revisions(ctx, u, col.Name, id)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	v := &revisionsView{Collection: col, Entry: e, Title: entryTitle(col, e), CanEdit: cms.CanEditEntry(u, e)}
	page := &adminPage{Title: "History of " + v.Title, Nav: "content", Data: v}
	names := map[string]string{}
	for _, rev := range revs {
		v.Rows = append(v.Rows, revisionRow{Revision: rev, Who: s.revisionWho(ctx, rev, names)})
	}
	if len(revs) == 0 {
		s.adminRender(w, r, http.StatusOK, "revisions", page)
		return
	}
	q := r.URL.Query()
	find := func(n int) int {
		return slices.IndexFunc(v.Rows, func(row revisionRow) bool { return row.Rev == n })
	}
	sel, base := 0, -1 // indexes into v.Rows (newest first)
	if n, err := strconv.Atoi(q.Get("rev")); err == nil {
		if i := find(n); i >= 0 {
			sel = i
		} else {
			page.Error = fmt.Sprintf("This entry has no revision %d; showing the newest instead.", n)
		}
	}
	if q.Has("from") || q.Has("to") {
		from, ferr := strconv.Atoi(q.Get("from"))
		to, terr := strconv.Atoi(q.Get("to"))
		fi, ti := find(from), find(to)
		v.From, v.To = from, to
		switch {
		case ferr != nil || terr != nil || fi < 0 || ti < 0:
			page.Error = "Pick two revisions of this entry to compare."
		case fi == ti:
			page.Error = "Pick two different revisions: a revision compared with itself shows nothing."
		default:
			if ti > fi { // compare older → newer whatever order they were picked in
				fi, ti = ti, fi
			}
			sel, base = ti, fi
		}
	}
	selRev, err := s.svc.Content.Revision(ctx, u, col.Name, id, v.Rows[sel].Rev)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	var baseRev *cms.Revision
	if base >= 0 {
		if baseRev, err = s.svc.Content.Revision(ctx, u, col.Name, id, v.Rows[base].Rev); err != nil {
			s.adminFail(w, r, err)
			return
		}
	} else {
		// The predecessor; past it, while the content is the same as the
		// selected revision's (a publish after a save), the one before.
		for i := sel + 1; i < len(v.Rows) && i <= sel+maxRevisionWalk; i++ {
			prev, err := s.svc.Content.Revision(ctx, u, col.Name, id, v.Rows[i].Rev)
			if err != nil {
				s.adminFail(w, r, err)
				return
			}
			base, baseRev = i, prev
			if !sameContent(prev, selRev) {
				break
			}
			v.Skipped = append(v.Skipped, prev.Rev)
		}
		if baseRev != nil && sameContent(baseRev, selRev) {
			v.Skipped = v.Skipped[:len(v.Skipped)-1] // base itself is not "between"
		}
	}
	v.Rows[sel].Selected = true
	v.Sel = &v.Rows[sel]
	if base >= 0 {
		v.Base = &v.Rows[base]
	}
	if v.From == 0 && v.To == 0 && v.Base != nil {
		v.From, v.To = v.Base.Rev, v.Sel.Rev
	}
	v.Changes, v.Unchanged = s.compareRevisions(ctx, col, baseRev, selRev)
	s.adminRender(w, r, http.StatusOK, "revisions", page)
}

// revisionWho names who made a revision, caching user names.
func (s *UI) revisionWho(ctx context.Context, rev *cms.Revision, names map[string]string) string {
	switch {
	case rev.AuthorID != "":
		if n, ok := names[rev.AuthorID]; ok {
			return n
		}
		n := "deleted user"
		if usr, err := s.svc.Users.Get(ctx, rev.AuthorID); err == nil {
			n = usr.Name
			if n == "" {
				n = usr.Email
			}
		} else if !errors.Is(err, cms.ErrNotFound) {
			s.log.WarnContext(ctx, "revision author lookup", "user", rev.AuthorID, "err", err)
			n = "unknown user"
		}
		names[rev.AuthorID] = n
		return n
	case rev.Plugin != "":
		return "plugin " + rev.Plugin
	}
	return "system"
}

func sameContent(a, b *cms.Revision) bool {
	if a.Slug != b.Slug {
		return false
	}
	ja, err1 := json.Marshal(a.Data)
	jb, err2 := json.Marshal(b.Data)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// compareRevisions lists the fields that differ from base to sel (base nil:
// everything sel has counts as added), in the collection's field order, and
// how many fields are the same.
func (s *UI) compareRevisions(ctx context.Context, col *cms.Collection, base, sel *cms.Revision) ([]fieldChange, int) {
	var out []fieldChange
	unchanged := 0
	old := map[string]any{}
	oldSlug := ""
	if base != nil {
		old, oldSlug = base.Data, base.Slug
	}
	hasSlugField := false
	for _, f := range col.Fields {
		if f.Type == cms.TypeSlug {
			hasSlugField = true
		}
		a, b := old[f.Name], sel.Data[f.Name]
		if a == nil && b == nil || sameValue(a, b) {
			if b != nil {
				unchanged++
			}
			continue
		}
		label := f.Label
		if label == "" {
			label = f.Name
		}
		out = append(out, s.fieldChange(ctx, f, label, a, b))
	}
	if !hasSlugField && oldSlug != sel.Slug {
		out = append(out, fieldChange{Label: "Slug", Kind: changeKind(oldSlug, sel.Slug),
			Words: wordDiff(oldSlug, sel.Slug)})
	}
	return out, unchanged
}

func changeKind(a, b any) string {
	switch {
	case a == nil || a == "":
		return "added"
	case b == nil || b == "":
		return "removed"
	}
	return "changed"
}

func sameValue(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func (s *UI) fieldChange(ctx context.Context, f *cms.Field, label string, a, b any) fieldChange {
	fc := fieldChange{Label: label, Kind: changeKind(a, b)}
	switch f.Type {
	case cms.TypeString, cms.TypeText, cms.TypeMarkdown, cms.TypeSlug:
		as, _ := a.(string)
		bs, _ := b.(string)
		fc.Words = wordDiff(as, bs)
	case cms.TypeJSON:
		fc.Words = wordDiff(readable(f, a), readable(f, b))
	case cms.TypeMultiselect:
		fc.Items = listDiff(a, b)
	case cms.TypeMedia:
		fc.Before, fc.BeforeMedia = s.mediaName(ctx, a)
		fc.After, fc.AfterMedia = s.mediaName(ctx, b)
	case cms.TypeReference:
		fc.Before, fc.After = s.referenceName(ctx, f, a), s.referenceName(ctx, f, b)
	default:
		fc.Before, fc.After = readable(f, a), readable(f, b)
	}
	return fc
}

// readable writes a stored value the way a person reads it: text as is
// (never JSON-quoted or escaped), yes/no, a date in UTC, JSON indented.
func readable(f *cms.Field, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if f.Type == cms.TypeDatetime {
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.UTC().Format("2006-01-02 15:04:05 UTC")
			}
		}
		if f.Type != cms.TypeJSON {
			return x
		}
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // html/template escapes; JSON's \u003c would show as such
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func (s *UI) mediaName(ctx context.Context, v any) (string, *cms.Media) {
	id, _ := v.(string)
	if id == "" || s.svc.Media == nil {
		return id, nil
	}
	m, err := s.svc.Media.Get(ctx, id)
	if err != nil {
		return id + " (deleted)", nil
	}
	return m.Filename, m
}

func (s *UI) referenceName(ctx context.Context, f *cms.Field, v any) string {
	id, _ := v.(string)
	if id == "" {
		return ""
	}
	col, err := s.svc.Content.Collection(ctx, f.Collection)
	if err != nil {
		return id
	}
	e, err := s.svc.Content.GetEntry(ctx, nil, col.Name, id)
	if err != nil {
		return id + " (deleted)"
	}
	return entryTitle(col, e)
}

// listDiff marks the items of a list kept, added or removed, in the new
// list's order followed by the removed ones.
func listDiff(a, b any) []wordPart {
	as, bs := strList(a), strList(b)
	var out []wordPart
	for _, x := range bs {
		op := "ins"
		if slices.Contains(as, x) {
			op = "eq"
		}
		out = append(out, wordPart{op, x})
	}
	for _, x := range as {
		if !slices.Contains(bs, x) {
			out = append(out, wordPart{"del", x})
		}
	}
	return out
}

func strList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// maxDiffTokens bounds the word diff's input; longer texts are shown as a
// whole replacement (a diff that size is not read word by word anyway).
const maxDiffTokens = 200_000

// wordDiff compares two texts word by word: words, runs of white space and
// single punctuation marks are the units, so Markdown's ** or a changed
// comma show on their own. diffmatchpatch diffs runes, so each distinct
// token is mapped to a rune of its own first (the library's line mode,
// done with words), then the result is cleaned up for people (small equal
// runs between changes merge into them).
func wordDiff(a, b string) []wordPart {
	ta, tb := tokenize(a), tokenize(b)
	if len(ta)+len(tb) > maxDiffTokens {
		return []wordPart{{"del", a}, {"ins", b}}
	}
	index := map[string]rune{}
	var tokens []string
	encode := func(ts []string) []rune {
		out := make([]rune, len(ts))
		for i, t := range ts {
			r, ok := index[t]
			if !ok {
				r = tokenRune(len(tokens))
				index[t] = r
				tokens = append(tokens, t)
			}
			out[i] = r
		}
		return out
	}
	ra, rb := encode(ta), encode(tb)
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = time.Second
	diffs := dmp.DiffCleanupSemantic(dmp.DiffMainRunes(ra, rb, false))
	out := make([]wordPart, 0, len(diffs))
	for _, d := range diffs {
		var sb strings.Builder
		for _, r := range d.Text {
			sb.WriteString(tokens[runeToken(r)])
		}
		op := map[diffmatchpatch.Operation]string{diffmatchpatch.DiffEqual: "eq", diffmatchpatch.DiffInsert: "ins", diffmatchpatch.DiffDelete: "del"}[d.Type]
		if n := len(out); n > 0 && out[n-1].Op == op {
			out[n-1].Text += sb.String()
			continue
		}
		out = append(out, wordPart{op, sb.String()})
	}
	return out
}

// tokenRune maps token number i to a rune that survives the library's
// rune → string → rune round trips: no surrogate halves.
func tokenRune(i int) rune {
	r := rune(i) + 1
	if r >= 0xD800 {
		r += 0x800
	}
	return r
}

func runeToken(r rune) int {
	if r >= 0xD800+0x800 {
		r -= 0x800
	}
	return int(r - 1)
}

func tokenize(s string) []string {
	var out []string
	start := -1
	class := func(r rune) int {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '’':
			return 1
		case unicode.IsSpace(r):
			return 2
		}
		return 3 // each punctuation mark is a token of its own
	}
	prev := 0
	for i, r := range s {
		c := class(r)
		if start >= 0 && (c != prev || c == 3) {
			out = append(out, s[start:i])
			start = -1
		}
		if start < 0 {
			start = i
		}
		prev = c
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

func (s *UI) handleAdminRestoreRevision(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	col, id := chi.URLParam(r, "col"), chi.URLParam(r, "id")
	rev, err := strconv.Atoi(chi.URLParam(r, "rev"))
	if err != nil {
		s.adminError(w, r, http.StatusNotFound, "No such revision: "+chi.URLParam(r, "rev"))
		return
	}
	if _, err := s.svc.Content.RestoreRevision(r.Context(), web.CurrentUser(r), col, id, rev, formVersion(r)); err != nil {
		s.adminFail(w, r, err)
		return
	}
	redirectNotice(w, r, "/admin/collections/"+col+"/entries/"+id, "revrestored")
}
