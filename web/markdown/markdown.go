// Package markdown renders Markdown to HTML that is safe to put into a page.
// One renderer and one sanitising policy serve the admin editor's preview and
// the API's ?render=html, so what an editor previews is what a front-end gets.
package markdown

import (
	"bytes"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

var (
	once   sync.Once
	md     goldmark.Markdown
	policy *bluemonday.Policy
)

// Render turns Markdown into sanitised HTML: goldmark renders GitHub-flavoured
// Markdown (raw HTML is escaped by default) and bluemonday's UGC policy strips
// anything that could script, style or frame the page anyway.
func Render(src []byte) ([]byte, error) {
	once.Do(func() {
		md = goldmark.New(goldmark.WithExtensions(extension.GFM))
		policy = bluemonday.UGCPolicy()
	})
	var buf bytes.Buffer
	if err := md.Convert(src, &buf); err != nil {
		return nil, err
	}
	return policy.SanitizeBytes(buf.Bytes()), nil
}
