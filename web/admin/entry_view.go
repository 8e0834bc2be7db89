package admin

import (
	"html/template"
	"net/http"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web/markdown"
)

// An entry its reader may not change (an author opening a colleague's) is
// shown read-only: its values as they read, no form, no Publish or Trash.
// Offering controls that every save would refuse only invites lost work.

// viewField is one field of the read-only view.
type viewField struct {
	Label string
	Type  cms.FieldType
	// Text is the value as people read it; HTML a Markdown field rendered
	// (and sanitised); Media a media field's item; List a multiselect's.
	Text  string
	HTML  template.HTML
	Media *cms.Media
	List  []string
	Empty bool
}

type entryReadView struct {
	Collection *cms.Collection
	Entry      *cms.Entry
	Fields     []viewField
	// Owner is who the entry belongs to, for the sentence saying why it is
	// read-only.
	Owner string
}

func (s *UI) renderEntryView(w http.ResponseWriter, r *http.Request, col *cms.Collection, e *cms.Entry) {
	ctx := r.Context()
	v := &entryReadView{Collection: col, Entry: e, Owner: "another user"}
	if e.AuthorID != "" {
		if u, err := s.svc.Users.Get(ctx, e.AuthorID); err == nil {
			v.Owner = u.Name
			if v.Owner == "" {
				v.Owner = u.Email
			}
		}
	}
	for _, f := range col.Fields {
		label := f.Label
		if label == "" {
			label = f.Name
		}
		vf := viewField{Label: label, Type: f.Type}
		val := e.Data[f.Name]
		switch f.Type {
		case cms.TypeMarkdown:
			src, _ := val.(string)
			if out, err := markdown.Render([]byte(src)); err == nil {
				vf.HTML = template.HTML(out) // rendered and sanitised by bluemonday
			} else {
				vf.Text = src
			}
			vf.Empty = src == ""
		case cms.TypeMedia:
			var name string
			name, vf.Media = s.mediaName(ctx, val)
			vf.Text, vf.Empty = name, name == ""
		case cms.TypeMultiselect:
			vf.List = strList(val)
			vf.Empty = len(vf.List) == 0
		case cms.TypeReference:
			vf.Text = s.referenceName(ctx, f, val)
			vf.Empty = vf.Text == ""
		default:
			vf.Text = readable(f, val)
			vf.Empty = vf.Text == ""
		}
		v.Fields = append(v.Fields, vf)
	}
	s.adminRender(w, r, http.StatusOK, "entry_view", &adminPage{Title: entryTitle(col, e), Nav: "content", Data: v})
}
