package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web"
)

// editorField is one control of the entry editor.
type editorField struct {
	F *cms.Field
	// ID is the control's element id; Name its form name ("d.<field>").
	ID, Name string
	Label    string
	Value    string
	Checked  bool
	Selected map[string]bool
	Errs     []string
	// Choices are the entries a reference may point at.
	Choices []choice
	// Media are the items a media field may pick from; Accept the types an
	// upload from the editor may have.
	Media  []*cms.Media
	Accept string
}

type choice struct{ Value, Label string }

type editorView struct {
	Collection *cms.Collection
	// Entry is nil for a new entry.
	Entry   *cms.Entry
	Fields  []editorField
	Version int64
	// Conflict explains a stale save; Rejected a plugin's refusal.
	Conflict string
	Rejected *cms.HookRejection
	// Other are problems not tied to a field.
	Other      []cms.FieldError
	ScheduleAt string
	Title      string
}

const (
	// formTimeLayout is what <input type="datetime-local" step="1"> sends and shows.
	formTimeLayout = "2006-01-02T15:04:05"
	pickerMedia    = 48
	pickerEntries  = 100
)

func (s *UI) loadCollection(w http.ResponseWriter, r *http.Request) *cms.Collection {
	col, err := s.svc.Content.Collection(r.Context(), chi.URLParam(r, "col"))
	if err != nil {
		s.adminFail(w, r, err)
		return nil
	}
	return col
}

func (s *UI) handleAdminNewEntry(w http.ResponseWriter, r *http.Request) {
	col := s.loadCollection(w, r)
	if col == nil {
		return
	}
	data := map[string]any{}
	for _, f := range col.Fields {
		if f.Default != nil {
			data[f.Name] = f.Default
		}
	}
	v := &editorView{Collection: col, Title: "New " + col.Label + " entry"}
	s.renderEditor(w, r, http.StatusOK, v, data, nil, "")
}

func (s *UI) handleAdminEditEntry(w http.ResponseWriter, r *http.Request) {
	col := s.loadCollection(w, r)
	if col == nil {
		return
	}
	e, err := s.svc.Content.GetEntry(r.Context(), web.CurrentUser(r), col.Name, chi.URLParam(r, "id"))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	if !cms.CanEditEntry(web.CurrentUser(r), e) {
		s.renderEntryView(w, r, col, e)
		return
	}
	v := &editorView{Collection: col, Entry: e, Version: e.Version, Title: entryTitle(col, e)}
	if e.ScheduledAt != nil {
		v.ScheduleAt = e.ScheduledAt.UTC().Format(formTimeLayout)
	}
	s.renderEditor(w, r, http.StatusOK, v, e.Data, nil, "")
}

// renderEditor builds a control per field from data (stored values, or what
// the user just posted) and errs (validation problems by path).
func (s *UI) renderEditor(w http.ResponseWriter, r *http.Request, status int, v *editorView, data map[string]any, errs map[string][]string, pageErr string) {
	ctx := r.Context()
	for _, f := range v.Collection.Fields {
		ef := editorField{F: f, ID: "field-" + f.Name, Name: "d." + f.Name, Label: f.Label,
			Errs: errs["/data/"+f.Name]}
		if ef.Label == "" {
			ef.Label = f.Name
		}
		val := data[f.Name]
		switch f.Type {
		case cms.TypeBoolean:
			ef.Checked, _ = val.(bool)
		case cms.TypeMultiselect:
			ef.Selected = map[string]bool{}
			if list, ok := val.([]any); ok {
				for _, x := range list {
					ef.Selected[fmt.Sprint(x)] = true
				}
			}
		default:
			ef.Value = formValue(f.Type, val)
		}
		switch f.Type {
		case cms.TypeReference:
			choices, err := s.referenceChoices(r, f.Collection)
			if err != nil {
				s.adminFail(w, r, err)
				return
			}
			ef.Choices = choices
		case cms.TypeMedia:
			page, err := s.svc.Media.List(ctx, cms.MediaQuery{Limit: pickerMedia})
			if err != nil {
				s.adminFail(w, r, err)
				return
			}
			ef.Media = page.Items
			ef.Accept = strings.Join(cms.AcceptedMediaTypes(), ",")
			if ef.Value != "" && !mediaListed(page.Items, ef.Value) {
				if m, err := s.svc.Media.Get(ctx, ef.Value); err == nil {
					ef.Media = append([]*cms.Media{m}, ef.Media...)
				}
			}
		}
		v.Fields = append(v.Fields, ef)
	}
	for path, msgs := range errs {
		if !strings.HasPrefix(path, "/data/") || v.Collection.Field(strings.TrimPrefix(path, "/data/")) == nil {
			for _, m := range msgs {
				v.Other = append(v.Other, cms.FieldError{Path: path, Message: m})
			}
		}
	}
	s.adminRender(w, r, status, "editor", &adminPage{Title: v.Title, Nav: "content", Error: pageErr, Data: v})
}

func mediaListed(items []*cms.Media, id string) bool {
	for _, m := range items {
		if m.ID == id {
			return true
		}
	}
	return false
}

func (s *UI) referenceChoices(r *http.Request, collection string) ([]choice, error) {
	col, err := s.svc.Content.Collection(r.Context(), collection)
	if err != nil {
		return nil, err
	}
	items, err := s.adminEntries(r, web.CurrentUser(r), col, url.Values{"sort": {"-updatedAt"}, "limit": {strconv.Itoa(pickerEntries)}})
	if err != nil {
		return nil, err
	}
	out := make([]choice, len(items))
	for i, it := range items {
		out[i] = choice{Value: it.Entry.ID, Label: it.Title}
	}
	return out, nil
}

// formValue is a stored value as the text its control shows.
func formValue(t cms.FieldType, val any) string {
	switch x := val.(type) {
	case nil:
		return ""
	case string:
		if t == cms.TypeDatetime {
			if tm, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return tm.UTC().Format(formTimeLayout)
			}
		}
		return x
	case float64:
		if t != cms.TypeJSON {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
	}
	b, err := json.MarshalIndent(val, "", "  ")
	if err != nil {
		return fmt.Sprint(val)
	}
	return string(b)
}

// parseEditorForm turns posted controls into entry data. Empty controls
// become null, which clears the value on an update and is simply absent on a
// create. Values whose text cannot even be read (a number that is not one,
// broken JSON) are reported here; everything else the content service checks.
func parseEditorForm(col *cms.Collection, form url.Values, v *cms.ValidationError) (data map[string]any, echo map[string]any) {
	data, echo = map[string]any{}, map[string]any{}
	for _, f := range col.Fields {
		key, path := "d."+f.Name, "/data/"+f.Name
		raw := strings.TrimSpace(form.Get(key))
		if f.Type == cms.TypeText || f.Type == cms.TypeMarkdown || f.Type == cms.TypeJSON {
			raw = strings.ReplaceAll(form.Get(key), "\r\n", "\n")
		}
		switch f.Type {
		case cms.TypeBoolean:
			if form.Get(key+".present") == "" {
				continue // the control was not on the form: leave the value alone
			}
			data[f.Name] = raw != ""
		case cms.TypeMultiselect:
			if form.Get(key+".present") == "" {
				continue
			}
			list := []any{}
			for _, x := range form[key] {
				list = append(list, x)
			}
			data[f.Name] = list
		case cms.TypeNumber, cms.TypeInteger:
			if raw == "" {
				data[f.Name] = nil
				break
			}
			x, err := strconv.ParseFloat(raw, 64)
			// ParseFloat reads "NaN" and "Inf" without error; neither is a
			// value JSON (and so the entry) can hold.
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				v.Add(path, fmt.Sprintf("%q is not a number", raw))
				echo[f.Name] = raw
				continue
			}
			data[f.Name] = x
		case cms.TypeDatetime:
			if raw == "" {
				data[f.Name] = nil
				break
			}
			tm, err := parseFormTime(raw)
			if err != nil {
				v.Add(path, err.Error())
				echo[f.Name] = raw
				continue
			}
			data[f.Name] = tm.Format(time.RFC3339)
		case cms.TypeJSON:
			if strings.TrimSpace(raw) == "" {
				data[f.Name] = nil
				break
			}
			var x any
			if err := json.Unmarshal([]byte(raw), &x); err != nil {
				v.Add(path, "is not valid JSON: "+err.Error())
				echo[f.Name] = raw
				continue
			}
			data[f.Name] = x
		default:
			if strings.TrimSpace(raw) == "" {
				data[f.Name] = nil
				break
			}
			data[f.Name] = raw
		}
		echo[f.Name] = data[f.Name]
	}
	return data, echo
}

// parseFormTime reads a datetime-local value (with or without seconds) as UTC.
func parseFormTime(s string) (time.Time, error) {
	for _, layout := range []string{formTimeLayout, "2006-01-02T15:04", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time like 2026-01-02T15:04", s)
}

func (s *UI) handleAdminCreateEntry(w http.ResponseWriter, r *http.Request) {
	s.saveEntry(w, r, true)
}
func (s *UI) handleAdminSaveEntry(w http.ResponseWriter, r *http.Request) {
	s.saveEntry(w, r, false)
}

// saveEntry saves the form, then applies the button's action (publish,
// schedule, unpublish, trash) to the version the save produced. A stale
// version, a plugin's refusal or invalid values re-render the form with what
// the user typed, so nothing is lost.
func (s *UI) saveEntry(w http.ResponseWriter, r *http.Request, isNew bool) {
	if !s.adminParseForm(w, r) {
		return
	}
	col := s.loadCollection(w, r)
	if col == nil {
		return
	}
	ctx, u := r.Context(), web.CurrentUser(r)
	action := r.PostForm.Get("_action")
	v := &editorView{Collection: col, Version: formVersion(r), ScheduleAt: r.PostForm.Get("schedule_at"), Title: "New " + col.Label + " entry"}
	id := chi.URLParam(r, "id")
	if !isNew {
		cur, err := s.svc.Content.GetEntry(ctx, u, col.Name, id)
		if err != nil {
			s.adminFail(w, r, err)
			return
		}
		v.Entry, v.Title = cur, entryTitle(col, cur)
	}
	if action == "trash" && !isNew {
		if _, err := s.svc.Content.Trash(ctx, u, col.Name, id, v.Version); err != nil {
			s.editorFailed(w, r, v, nil, err)
			return
		}
		redirectNotice(w, r, "/admin/collections/"+col.Name+"/entries", "trashed")
		return
	}
	var verr cms.ValidationError
	data, echo := parseEditorForm(col, r.PostForm, &verr)
	var at *time.Time
	if action == "schedule" {
		t, err := parseFormTime(v.ScheduleAt)
		if err != nil {
			verr.Add("/at", "must be a date and time like 2026-01-02T15:04 to schedule")
		}
		at = &t
	}
	if err := verr.Err(); err != nil {
		s.editorFailed(w, r, v, echo, err)
		return
	}
	var e *cms.Entry
	var err error
	if isNew {
		e, err = s.svc.Content.CreateEntry(ctx, u, col.Name, data)
	} else {
		e, err = s.svc.Content.UpdateEntry(ctx, u, col.Name, id, data, v.Version)
	}
	if err != nil {
		s.editorFailed(w, r, v, echo, err)
		return
	}
	notice := map[bool]string{true: "created", false: "saved"}[isNew]
	switch action {
	case "publish":
		e, err = s.svc.Content.Publish(ctx, u, col.Name, e.ID, nil, e.Version)
		notice = "published"
	case "schedule":
		e, err = s.svc.Content.Publish(ctx, u, col.Name, e.ID, at, e.Version)
		notice = "scheduled"
	case "unpublish":
		e, err = s.svc.Content.Unpublish(ctx, u, col.Name, e.ID, e.Version)
		notice = "unpublished"
	}
	if err != nil {
		// The data is saved; only the action failed. Show the saved entry
		// with the reason.
		cur, gerr := s.svc.Content.GetEntry(ctx, u, col.Name, e.ID)
		if gerr != nil {
			s.adminFail(w, r, err)
			return
		}
		v.Entry, v.Version = cur, cur.Version
		if status, msg := adminErrorStatus(err); status != http.StatusInternalServerError && status != http.StatusUnprocessableEntity {
			// Not a problem of the form: say what happened and why, once.
			s.renderEditor(w, r, status, v, cur.Data, nil, "Your changes were saved, but "+actionVerbs[action]+" failed: "+msg)
			return
		}
		s.editorFailed(w, r, v, cur.Data, err)
		return
	}
	redirectNotice(w, r, "/admin/collections/"+col.Name+"/entries/"+e.ID, notice)
}

// actionVerbs name the editor's buttons' actions in messages.
var actionVerbs = map[string]string{"publish": "publishing", "schedule": "scheduling", "unpublish": "unpublishing"}

// editorFailed re-renders the editor with the posted values and says why the
// save did not happen.
func (s *UI) editorFailed(w http.ResponseWriter, r *http.Request, v *editorView, echo map[string]any, err error) {
	if echo == nil && v.Entry != nil {
		echo = v.Entry.Data
	}
	var stale *cms.StaleVersionError
	var rej *cms.HookRejection
	byPath, _ := errorsByPath(err)
	status, msg := adminErrorStatus(err)
	switch {
	case errors.As(err, &stale):
		v.Conflict = fmt.Sprintf("Someone else saved this entry after you opened it (it is now at version %d), so your changes were NOT saved. "+
			"They are still in the form below. Open the entry in a new tab to see the other changes, or save again to replace them with yours.", stale.Current)
		v.Version = stale.Current
		msg = ""
	case errors.As(err, &rej):
		v.Rejected = rej
		msg = ""
	case byPath != nil:
		msg = "Not saved: fix the problems marked below."
	case status == http.StatusInternalServerError:
		s.adminFail(w, r, err)
		return
	}
	s.renderEditor(w, r, status, v, echo, byPath, msg)
}
