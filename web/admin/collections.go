package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// adminFieldTypes is every field type, in the order the type menu shows them,
// with a sentence that helps pick one.
var adminFieldTypes = []struct{ Type, Help string }{
	{"string", "one line of text"},
	{"text", "several lines of plain text"},
	{"markdown", "formatted text written in Markdown"},
	{"number", "any number"},
	{"integer", "a whole number"},
	{"boolean", "yes or no"},
	{"datetime", "a date and time (UTC)"},
	{"select", "one of a list of options"},
	{"multiselect", "any of a list of options"},
	{"slug", "the entry's URL name"},
	{"reference", "a link to another entry"},
	{"media", "an image or file from the media library"},
	{"json", "structured data"},
}

// fieldOptionTypes says which field types each option of a field row
// applies to (space-separated, for the form's data-for attributes): the
// script shows a row only the options of its type, and disables the rest
// so they are not sent. It mirrors cms.validateFieldOptions, which refuses
// an option on a type it does not apply to.
var fieldOptionTypes = map[string]string{
	"default":    "string text markdown number integer boolean datetime select multiselect reference media json",
	"min":        "number integer string text markdown slug multiselect",
	"pattern":    "string text markdown slug",
	"from":       "slug",
	"collection": "reference",
	"options":    "select multiselect",
	"unique":     "string number integer datetime select slug reference media",
	"index":      "string number integer boolean datetime select slug reference media",
}

// fieldPreset is a common field the form adds with one click.
type fieldPreset struct {
	Key      string `json:"key"`
	Button   string `json:"-"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Label    string `json:"label"`
	Required bool   `json:"required,omitempty"`
	From     string `json:"from,omitempty"`
	// FocusOptions: the preset needs the options the user has in mind.
	FocusOptions bool `json:"focusOptions,omitempty"`
}

var fieldPresets = []fieldPreset{
	{Key: "title", Button: "Title", Name: "title", Type: "string", Label: "Title", Required: true},
	{Key: "slug", Button: "Slug", Name: "slug", Type: "slug", Label: "Slug", From: "title"},
	{Key: "body", Button: "Body", Name: "body", Type: "markdown", Label: "Body"},
	{Key: "cover", Button: "Cover image", Name: "cover", Type: "media", Label: "Cover image"},
	{Key: "tags", Button: "Tags", Name: "tags", Type: "multiselect", Label: "Tags", FocusOptions: true},
}

// fieldRow is one row of the collection field editor, as text the form shows.
type fieldRow struct {
	// Index is the row's number in input names; "__i__" in the template row
	// the script clones.
	Index                                                  string
	Name, Type, Label, Default, Min, Max, Pattern, Options string
	From, Collection                                       string
	Required, Unique                                       bool
	// Indexed is the field's "index" option: on unless the definition
	// turns it off (cms.Field.Index), so new rows start checked.
	Indexed bool
	// Errs holds problems by attribute ("" for the row as a whole).
	Errs map[string][]string
}

type collectionFormView struct {
	New         bool
	Name, Label string
	Options     cms.CollectionOptions
	Rows        []fieldRow
	Types       any
	// Blank is the row the "Add a field" button clones.
	Blank       fieldRow
	Collections []*cms.Collection
	Errs        map[string][]string
	// Other are problems with no control of their own.
	Other []cms.FieldError
	// For and Presets: see fieldOptionTypes and fieldPresets.
	For     map[string]string
	Presets []fieldPreset
}

type collectionsView struct{ Collections []*cms.Collection }

func (s *UI) adminContentRoutes(r chiRouter) {
	r.Get("/collections", s.handleAdminCollections)
	r.Group(func(r chi.Router) {
		r.Use(s.adminRequire(cms.PermManageCollections))
		r.Get("/collections/new", s.handleAdminNewCollection)
		r.Post("/collections/new", s.handleAdminCreateCollection)
		r.Get("/collections/{col}/edit", s.handleAdminEditCollection)
		r.Post("/collections/{col}/edit", s.handleAdminUpdateCollection)
	})
	s.adminEntryRoutes(r)
}

// chiRouter keeps the route helpers' signatures short.
type chiRouter = chi.Router

func (s *UI) handleAdminCollections(w http.ResponseWriter, r *http.Request) {
	cols, err := s.svc.Content.ListCollections(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.adminRender(w, r, http.StatusOK, "collections", &adminPage{Title: "Content", Nav: "content", Data: collectionsView{cols}})
}

const blankFieldRows = 2

func (s *UI) renderCollectionForm(w http.ResponseWriter, r *http.Request, status int, v collectionFormView, pageErr string) {
	cols, err := s.svc.Content.ListCollections(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	v.Collections, v.Types = cols, adminFieldTypes
	v.For, v.Presets = fieldOptionTypes, fieldPresets
	v.Blank = fieldRow{Index: "__i__", Type: "string", Indexed: true}
	title := "New collection"
	if !v.New {
		title = "Fields of " + v.Label
	}
	s.adminRender(w, r, status, "collection_form", &adminPage{Title: title, Nav: "content", Error: pageErr, Data: v})
}

func (s *UI) handleAdminNewCollection(w http.ResponseWriter, r *http.Request) {
	v := collectionFormView{New: true, Options: cms.CollectionOptions{Drafts: true, Revisions: true, Scheduling: true}}
	for i := range blankFieldRows + 1 {
		v.Rows = append(v.Rows, fieldRow{Index: strconv.Itoa(i), Type: "string", Indexed: true})
	}
	s.renderCollectionForm(w, r, http.StatusOK, v, "")
}

func (s *UI) handleAdminEditCollection(w http.ResponseWriter, r *http.Request) {
	col, err := s.svc.Content.Collection(r.Context(), chi.URLParam(r, "col"))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	v := collectionFormView{Name: col.Name, Label: col.Label, Options: col.Options}
	for i, f := range col.Fields {
		v.Rows = append(v.Rows, rowFromField(i, f))
	}
	for i := range blankFieldRows {
		v.Rows = append(v.Rows, fieldRow{Index: strconv.Itoa(len(col.Fields) + i), Type: "string", Indexed: true})
	}
	s.renderCollectionForm(w, r, http.StatusOK, v, "")
}

func rowFromField(i int, f *cms.Field) fieldRow {
	row := fieldRow{Index: strconv.Itoa(i), Name: f.Name, Type: string(f.Type), Label: f.Label, Pattern: f.Pattern,
		Options: strings.Join(f.Options, "\n"), From: f.From, Collection: f.Collection, Required: f.Required, Unique: f.Unique,
		Indexed: f.Index == nil || *f.Index}
	if f.Min != nil {
		row.Min = strconv.FormatFloat(*f.Min, 'f', -1, 64)
	}
	if f.Max != nil {
		row.Max = strconv.FormatFloat(*f.Max, 'f', -1, 64)
	}
	switch d := f.Default.(type) {
	case nil:
	case string:
		row.Default = d
	case []any:
		parts := make([]string, len(d))
		for i, x := range d {
			parts[i] = fmt.Sprint(x)
		}
		row.Default = strings.Join(parts, ", ")
	default:
		b, _ := json.Marshal(d)
		row.Default = string(b)
	}
	return row
}

// maxFieldRows bounds how many rows a posted form may claim to have.
const maxFieldRows = 200

// parseFieldRows reads the field editor. Blank rows and rows marked for
// removal are skipped; rowOf maps each resulting field to its form row so
// errors from the content service land next to the right inputs.
func parseFieldRows(form map[string][]string, v *cms.ValidationError) (rows []fieldRow, fields []*cms.Field, rowOf []int) {
	get := func(k string) string {
		if vals := form[k]; len(vals) > 0 {
			return strings.TrimSpace(vals[0])
		}
		return ""
	}
	n, _ := strconv.Atoi(get("field_rows"))
	n = max(0, min(n, maxFieldRows))
	for i := range n {
		p := fmt.Sprintf("fields.%d.", i)
		row := fieldRow{Index: strconv.Itoa(i), Name: get(p + "name"), Type: get(p + "type"), Label: get(p + "label"),
			Default: get(p + "default"), Min: get(p + "min"), Max: get(p + "max"), Pattern: get(p + "pattern"),
			Options: get(p + "options"), From: get(p + "from"), Collection: get(p + "collection"),
			Required: get(p+"required") != "", Unique: get(p+"unique") != "", Indexed: get(p+"index") != ""}
		if get(p+"remove") != "" || (row.Name == "" && row.Label == "") {
			if row.Name != "" || row.Label != "" {
				continue // removed: the row is dropped from the re-rendered form too
			}
			rows = append(rows, row)
			continue
		}
		rows = append(rows, row)
		path := fmt.Sprintf("/fields/%d/", len(fields))
		f := &cms.Field{Name: row.Name, Type: cms.FieldType(row.Type), Label: row.Label, Required: row.Required,
			Unique: row.Unique, Pattern: row.Pattern, From: row.From, Collection: row.Collection}
		// The checkbox is sent only for the types it applies to (the script
		// disables it for the others), so an unchecked box on such a type is
		// "index": false; left checked it stays the default.
		if !row.Indexed && strings.Contains(" "+fieldOptionTypes["index"]+" ", " "+row.Type+" ") {
			f.Index = new(bool)
		}
		for _, o := range strings.FieldsFunc(row.Options, func(r rune) bool { return r == '\n' || r == ',' }) {
			if o = strings.TrimSpace(o); o != "" {
				f.Options = append(f.Options, o)
			}
		}
		f.Min = parseBound(v, path+"min", row.Min)
		f.Max = parseBound(v, path+"max", row.Max)
		if row.Default != "" {
			d, err := parseDefault(f.Type, row.Default)
			if err != nil {
				v.Add(path+"default", err.Error())
			}
			f.Default = d
		}
		fields = append(fields, f)
		rowOf = append(rowOf, len(rows)-1)
	}
	return rows, fields, rowOf
}

func parseBound(v *cms.ValidationError, path, s string) *float64 {
	if s == "" {
		return nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		v.Add(path, fmt.Sprintf("%q is not a number", s))
		return nil
	}
	return &x
}

// parseDefault turns the default's text into a value of the field's type;
// the content service then checks it like any other value.
func parseDefault(t cms.FieldType, s string) (any, error) {
	switch t {
	case cms.TypeNumber, cms.TypeInteger:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return x, nil
	case cms.TypeBoolean:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("must be true or false, not %q", s)
		}
		return b, nil
	case cms.TypeMultiselect:
		var out []any
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	case cms.TypeJSON:
		var x any
		if err := json.Unmarshal([]byte(s), &x); err != nil {
			return nil, fmt.Errorf("is not valid JSON: %v", err)
		}
		return x, nil
	}
	return s, nil
}

// spreadErrors files validation problems under the form: collection-level by
// path, field-level into their rows.
func spreadErrors(err error, rows []fieldRow, rowOf []int) map[string][]string {
	byPath, _ := errorsByPath(err)
	top := map[string][]string{}
	for path, msgs := range byPath {
		var i int
		var attr string
		if n, _ := fmt.Sscanf(path, "/fields/%d/", &i); n == 1 && i >= 0 && i < len(rowOf) {
			rest := strings.TrimPrefix(path, fmt.Sprintf("/fields/%d", i))
			attr = strings.TrimPrefix(rest, "/")
			if k := strings.IndexByte(attr, '/'); k >= 0 {
				attr = attr[:k]
			}
			row := &rows[rowOf[i]]
			if row.Errs == nil {
				row.Errs = map[string][]string{}
			}
			row.Errs[attr] = append(row.Errs[attr], msgs...)
			continue
		}
		top[path] = append(top[path], msgs...)
	}
	return top
}

func formOptions(form map[string][]string) *cms.OptionsInput {
	on := func(k string) *bool { b := len(form[k]) > 0 && form[k][0] != ""; return &b }
	return &cms.OptionsInput{Drafts: on("opt_drafts"), Revisions: on("opt_revisions"), Scheduling: on("opt_scheduling"), Public: on("opt_public")}
}

func (s *UI) handleAdminCreateCollection(w http.ResponseWriter, r *http.Request) {
	s.saveCollection(w, r, true)
}

func (s *UI) handleAdminUpdateCollection(w http.ResponseWriter, r *http.Request) {
	s.saveCollection(w, r, false)
}

func (s *UI) saveCollection(w http.ResponseWriter, r *http.Request, isNew bool) {
	if !s.adminParseForm(w, r) {
		return
	}
	var v cms.ValidationError
	rows, fields, rowOf := parseFieldRows(r.PostForm, &v)
	opts := formOptions(r.PostForm)
	view := collectionFormView{New: isNew, Name: strings.TrimSpace(r.PostForm.Get("name")), Label: strings.TrimSpace(r.PostForm.Get("label")),
		Options: cms.CollectionOptions{Drafts: *opts.Drafts, Revisions: *opts.Revisions, Scheduling: *opts.Scheduling, Public: *opts.Public}, Rows: rows}
	if !isNew {
		view.Name = chi.URLParam(r, "col")
	}
	err := v.Err()
	if err == nil {
		if fields == nil {
			fields = []*cms.Field{}
		}
		if isNew {
			_, err = s.svc.Content.CreateCollection(r.Context(), cms.CollectionInput{Name: view.Name, Label: view.Label, Fields: fields, Options: opts})
		} else {
			_, err = s.svc.Content.UpdateCollection(r.Context(), view.Name, cms.CollectionPatch{Label: &view.Label, Fields: fields, Options: opts})
		}
	}
	if err != nil {
		status, msg := adminErrorStatus(err)
		if status == http.StatusInternalServerError || status == http.StatusNotFound {
			s.adminFail(w, r, err)
			return
		}
		view.Errs = spreadErrors(err, view.Rows, rowOf)
		for path, msgs := range view.Errs {
			if path != "/name" && path != "/label" && path != "/fields" {
				for _, m := range msgs {
					view.Other = append(view.Other, cms.FieldError{Path: path, Message: m})
				}
			}
		}
		for range blankFieldRows {
			view.Rows = append(view.Rows, fieldRow{Type: "string"})
		}
		for i := range view.Rows {
			view.Rows[i].Index = strconv.Itoa(i)
		}
		if _, isVal := errorsByPath(err); isVal != nil {
			msg = "The collection was not saved: fix the problems marked below."
		}
		s.renderCollectionForm(w, r, status, view, msg)
		return
	}
	if isNew {
		redirectNotice(w, r, "/admin/collections/"+view.Name+"/entries", "created")
		return
	}
	redirectNotice(w, r, "/admin/collections/"+view.Name+"/edit", "saved")
}

// adminParseForm reads a url-encoded form, answering 400 itself when it cannot.
func (s *UI) adminParseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.adminError(w, r, http.StatusBadRequest, "The form could not be read: "+err.Error())
		return false
	}
	return true
}
