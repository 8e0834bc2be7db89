package examples

import (
	"reflect"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins"
)

func TestReadingTime(t *testing.T) {
	ex := load(t, "reading-time")
	tests := []struct {
		name     string
		fixture  string
		settings map[string]any
		// set is what the hook must write; nil means it must keep the data
		// (return nothing). Every other field must come back unchanged.
		set map[string]any
	}{
		{
			// 44 ten-word sentences, a two-word heading, "See the docs and a
			// diagram" (link and image targets not counted) and two words of
			// code: 450 words, 2.25 minutes at 200 wpm, rounded up.
			name: "markdown at the default speed", fixture: "content.beforeSave.json",
			settings: map[string]any{"wordCountField": "word_count"},
			set:      map[string]any{"reading_time": 3.0, "word_count": 450.0},
		},
		{
			name: "slower readers", fixture: "content.beforeSave.json",
			settings: map[string]any{"wordsPerMinute": 100},
			set:      map[string]any{"reading_time": 5.0}, // 4.5 rounded up; word_count not configured, left null
		},
		{
			name: "custom field name present in the data", fixture: "content.beforeSave.json",
			settings: map[string]any{"field": "word_count", "wordsPerMinute": 150},
			set:      map[string]any{"word_count": 3.0},
		},
		{
			name: "collection without the field is left alone", fixture: "content.beforeSave.nofield.json",
		},
		{
			// "We write small things": the HTML tags are not words.
			name: "listed collection gets the field added", fixture: "content.beforeSave.nofield.json",
			settings: map[string]any{"collections": "posts\npages", "wordCountField": "words"},
			set:      map[string]any{"reading_time": 1.0, "words": 4.0},
		},
		{
			// "Pilcrow" is one word; the three Japanese characters count one
			// each and the ideographic full stop none.
			name: "scripts without spaces", fixture: "content.beforeSave.cjk.json",
			settings: map[string]any{"collections": "notes", "wordCountField": "words"},
			set:      map[string]any{"reading_time": 1.0, "words": 4.0},
		},
		{
			name: "value already current", fixture: "content.beforeSave.current.json",
		},
		{
			name: "no text in the source fields", fixture: "content.beforeSave.current.json",
			settings: map[string]any{"sourceFields": "body"}, // the note's text is in "content"
			set:      map[string]any{"reading_time": 0.0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ex.run(t, plugins.LocalRun{Name: "content:beforeSave", Event: ex.fixture(t, tt.fixture), Settings: tt.settings})
			if err != nil {
				t.Fatalf("hook failed: %v", err)
			}
			if tt.set == nil {
				if res.Value != nil {
					t.Fatalf("want the data kept (no return value), got %s", res.Value)
				}
				return
			}
			got := decode(t, res)
			for k, want := range tt.set {
				if got[k] != want {
					t.Errorf("%s = %v, want %v", k, got[k], want)
				}
			}
			before := ex.fixtureData(t, tt.fixture)
			keys := make([]string, 0, len(tt.set))
			for k := range tt.set {
				keys = append(keys, k)
			}
			if !reflect.DeepEqual(withoutKeys(got, keys...), withoutKeys(before, keys...)) {
				t.Errorf("other fields changed:\n got %v\nwant %v", withoutKeys(got, keys...), withoutKeys(before, keys...))
			}
		})
	}
}
