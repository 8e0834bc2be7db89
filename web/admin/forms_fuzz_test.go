package admin

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// FuzzParseEditorForm: any posted query either yields data for the
// collection's own fields only, which encodes as JSON and survives a round
// trip through the editor (shown with formValue, posted again, parsed to the
// same data), or problems located at /data/<field>. Fuzz with
//
//	go test ./web/admin -run '^$' -fuzz FuzzParseEditorForm -fuzztime 30s
func FuzzParseEditorForm(f *testing.F) {
	for _, q := range []string{
		"d.title=Hi&d.body=%23+A%0D%0A&d.count=3&d.price=2.5",
		"d.on.present=1&d.on=on&d.tags.present=1&d.tags=a&d.tags=zzz",
		"d.at=2026-03-04T05:06&d.meta=%7B%22a%22%3A%5B1%5D%7D",
		"d.at=2026-03-04T05:06:07.5%2B02:00",
		"d.count=NaN", "d.price=Inf", "d.price=-infinity", "d.count=1e400", "d.count=0x1p-2",
		"d.meta=1e999", "d.meta=%5B", "d.title=%00%FF", "d.cover=+x+", "d.at=yesterday",
		"d.extra=1&x=2&d.title=a&d.title=b",
	} {
		f.Add(q)
	}
	col := editorCollection()
	fields := map[string]*cms.Field{}
	for _, fd := range col.Fields {
		fields[fd.Name] = fd
	}
	f.Fuzz(func(t *testing.T, query string) {
		form, err := url.ParseQuery(query)
		if err != nil {
			return // net/http refuses such a body before the handler
		}
		v := &cms.ValidationError{}
		data, _ := parseEditorForm(col, form, v)
		for _, fe := range v.Errors {
			if name, ok := strings.CutPrefix(fe.Path, "/data/"); !ok || fields[name] == nil || fe.Message == "" {
				t.Fatalf("problem %+v is not located at a field", fe)
			}
		}
		for k := range data {
			if fields[k] == nil {
				t.Fatalf("data has %q, which is no field", k)
			}
		}
		if len(v.Errors) > 0 {
			return
		}
		if _, err := json.Marshal(data); err != nil {
			t.Fatalf("accepted form %q gives data that does not encode: %v (%v)", query, err, data)
		}
		// Show it as the editor would, post it back, parse again.
		again := url.Values{}
		for name, val := range data {
			key := "d." + name
			switch fields[name].Type {
			case cms.TypeBoolean:
				again.Set(key+".present", "1")
				if val == true {
					again.Set(key, "on")
				}
			case cms.TypeMultiselect:
				again.Set(key+".present", "1")
				for _, x := range val.([]any) {
					again.Add(key, x.(string))
				}
			default:
				again.Set(key, formValue(fields[name].Type, val))
			}
		}
		v2 := &cms.ValidationError{}
		data2, _ := parseEditorForm(col, again, v2)
		if len(v2.Errors) > 0 || !reflect.DeepEqual(data, data2) {
			t.Fatalf("round trip of %q: %v → %v (%v)", query, data, data2, v2.Errors)
		}
	})
}
