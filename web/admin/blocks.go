package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The §11 block vocabulary: what a plugin's admin route may answer, and how
// the host renders it. One row per block type — its decoder (which checks
// every field) and the template in templates/blocks.html that draws it —
// so adding a block is a row here and a {{define}} there. Everything a
// plugin sends goes through html/template, so every string is escaped; a
// block the table does not know, or one that fails its checks, is dropped
// with a note and the rest of the page still renders.
var blockTypes = map[string]blockType{
	"header":  {decode: decodeBlock[headerBlock], tmpl: "block-header"},
	"text":    {decode: decodeBlock[textBlock], tmpl: "block-text"},
	"fields":  {decode: decodeBlock[fieldsBlock], tmpl: "block-fields"},
	"table":   {decode: decodeBlock[tableBlock], tmpl: "block-table"},
	"stats":   {decode: decodeBlock[statsBlock], tmpl: "block-stats"},
	"divider": {decode: decodeBlock[dividerBlock], tmpl: "block-divider"},
	"form":    {decode: decodeBlock[formBlock], tmpl: "block-form"},
	"button":  {decode: decodeBlock[buttonBlock], tmpl: "block-button"},
	"link":    {decode: decodeBlock[linkBlock], tmpl: "block-link"},
}

// Bounds on an answer, so a plugin cannot make a page unboundedly large.
const (
	maxBlocks    = 100
	maxTableRows = 200
	maxItems     = 50
	maxText      = 10000
)

type blockType struct {
	decode func(json.RawMessage) (any, error)
	tmpl   string
}

// checker is a decoded block that checks its own fields.
type checker interface{ check() error }

func decodeBlock[T any, P interface {
	*T
	checker
}](raw json.RawMessage) (any, error) {
	v := P(new(T))
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("fields of the wrong type: %v", err)
	}
	if err := v.check(); err != nil {
		return nil, err
	}
	return v, nil
}

func need(name, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s is required", name)
	}
	if len(v) > maxText {
		return fmt.Errorf("%s is longer than %d bytes", name, maxText)
	}
	return nil
}

type headerBlock struct {
	Text string `json:"text"`
}

func (b *headerBlock) check() error { return need("text", b.Text) }

// textBlock is plain text with a small Markdown subset (markdown.go);
// blank lines separate paragraphs.
type textBlock struct {
	Text string `json:"text"`
}

func (b *textBlock) check() error { return need("text", b.Text) }

// Paragraphs splits the text at blank lines and renders each paragraph's
// inline Markdown; every character of the plugin's text is escaped.
func (b *textBlock) Paragraphs() []template.HTML {
	var out []template.HTML
	for _, p := range strings.Split(strings.ReplaceAll(b.Text, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, inlineMarkdown(p))
		}
	}
	return out
}

type labelValue struct {
	Label string `json:"label"`
	Value scalar `json:"value"`
	Trend string `json:"trend,omitempty"`
}

type fieldsBlock struct {
	Items []labelValue `json:"items"`
}

func (b *fieldsBlock) check() error { return checkItems(b.Items) }

type statsBlock struct {
	Items []labelValue `json:"items"`
}

func (b *statsBlock) check() error {
	if err := checkItems(b.Items); err != nil {
		return err
	}
	for i, it := range b.Items {
		if len(it.Trend) > 40 {
			return fmt.Errorf("items[%d].trend is longer than 40 bytes", i)
		}
	}
	return nil
}

func checkItems(items []labelValue) error {
	if len(items) == 0 || len(items) > maxItems {
		return fmt.Errorf("items must hold 1 to %d entries, has %d", maxItems, len(items))
	}
	for i, it := range items {
		if err := need(fmt.Sprintf("items[%d].label", i), it.Label); err != nil {
			return err
		}
	}
	return nil
}

// scalar is a cell or value: a string, number, boolean or null, shown as
// text. Objects and arrays are shown as compact JSON text.
type scalar string

func (s *scalar) UnmarshalJSON(b []byte) error {
	var str string
	if json.Unmarshal(b, &str) == nil {
		*s = scalar(str)
		return nil
	}
	if string(b) == "null" {
		*s = ""
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	*s = scalar(buf.String())
	return nil
}

type column struct {
	Key   string `json:"key"`
	Label string `json:"label"`
}

type tableBlock struct {
	Columns    []column            `json:"columns"`
	Rows       []map[string]scalar `json:"rows"`
	NextCursor string              `json:"nextCursor,omitempty"`
	// next is the link to the following page, set by the host.
	next template.URL
}

func (b *tableBlock) check() error {
	if len(b.Columns) == 0 || len(b.Columns) > 20 {
		return fmt.Errorf("columns must hold 1 to 20 entries, has %d", len(b.Columns))
	}
	for i, c := range b.Columns {
		if err := need(fmt.Sprintf("columns[%d].key", i), c.Key); err != nil {
			return err
		}
		if err := need(fmt.Sprintf("columns[%d].label", i), c.Label); err != nil {
			return err
		}
	}
	if len(b.Rows) > maxTableRows {
		return fmt.Errorf("rows holds %d entries; the limit is %d", len(b.Rows), maxTableRows)
	}
	if len(b.NextCursor) > 1024 {
		return errors.New("nextCursor is longer than 1024 bytes")
	}
	return nil
}

// Cells returns each row's values in column order.
func (b *tableBlock) Cells() [][]string {
	out := make([][]string, len(b.Rows))
	for i, r := range b.Rows {
		out[i] = make([]string, len(b.Columns))
		for j, c := range b.Columns {
			out[i][j] = string(r[c.Key])
		}
	}
	return out
}

// Next is the link to the next page, empty on the last.
func (b *tableBlock) Next() template.URL { return b.next }

type dividerBlock struct{}

func (b *dividerBlock) check() error { return nil }

var inputTypes = []string{"text", "textarea", "number", "select", "toggle", "date"}

type formInput struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Label   string   `json:"label"`
	Value   scalar   `json:"value,omitempty"`
	Options []option `json:"options,omitempty"`
}

type option struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Checked is whether a toggle starts on.
func (in formInput) Checked() bool { return in.Value == "true" }

type submit struct {
	Label    string `json:"label"`
	ActionID string `json:"actionId"`
}

type formBlock struct {
	ID     string      `json:"id"`
	Inputs []formInput `json:"inputs"`
	Submit submit      `json:"submit"`
}

func (b *formBlock) check() error {
	if err := need("id", b.ID); err != nil {
		return err
	}
	if len(b.Inputs) > maxItems {
		return fmt.Errorf("inputs holds %d entries; the limit is %d", len(b.Inputs), maxItems)
	}
	seen := map[string]bool{}
	for i, in := range b.Inputs {
		if !slices.Contains(inputTypes, in.Type) {
			return fmt.Errorf("inputs[%d].type %q is not one of %s", i, in.Type, strings.Join(inputTypes, ", "))
		}
		if !isName(in.Name) {
			return fmt.Errorf("inputs[%d].name %q must be letters, digits, _ or -", i, in.Name)
		}
		if seen[in.Name] {
			return fmt.Errorf("inputs[%d].name %q is used twice", i, in.Name)
		}
		seen[in.Name] = true
		if err := need(fmt.Sprintf("inputs[%d].label", i), in.Label); err != nil {
			return err
		}
		if in.Type == "select" && len(in.Options) == 0 {
			return fmt.Errorf("inputs[%d] is a select without options", i)
		}
	}
	if err := need("submit.label", b.Submit.Label); err != nil {
		return err
	}
	return checkActionID("submit.actionId", b.Submit.ActionID)
}

type buttonBlock struct {
	Label    string `json:"label"`
	ActionID string `json:"actionId"`
	Style    string `json:"style,omitempty"`
	// Value travels with the action as values.value, so one action can
	// serve a button per row.
	Value string `json:"value,omitempty"`
}

func (b *buttonBlock) check() error {
	if err := need("label", b.Label); err != nil {
		return err
	}
	if b.Style != "" && b.Style != "primary" && b.Style != "danger" {
		return fmt.Errorf("style %q is not primary or danger", b.Style)
	}
	if len(b.Value) > 1024 {
		return errors.New("value is longer than 1024 bytes")
	}
	return checkActionID("actionId", b.ActionID)
}

type linkBlock struct {
	Label string `json:"label"`
	Href  string `json:"href"`
}

func (b *linkBlock) check() error {
	if err := need("label", b.Label); err != nil {
		return err
	}
	if !safeHref(b.Href) {
		return fmt.Errorf("href %q is neither a same-site path nor an https:// URL", b.Href)
	}
	return nil
}

// URL is the checked href; html/template still escapes it as an attribute.
func (b *linkBlock) URL() template.URL { return template.URL(b.Href) }

// safeHref admits same-site paths ("/…", not "//…") and https URLs.
func safeHref(h string) bool {
	if strings.ContainsAny(h, "\\\r\n\t\x00 ") || len(h) > 2048 {
		return false
	}
	if strings.HasPrefix(h, "/") {
		return !strings.HasPrefix(h, "//")
	}
	u, err := url.Parse(h)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}

func isName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func checkActionID(field, id string) error {
	if !isName(id) {
		return fmt.Errorf("%s %q must be 1 to 64 letters, digits, _ or -", field, id)
	}
	return nil
}

// blockAnswer is what the admin route answers: {blocks, toast?}.
type blockAnswer struct {
	Blocks []json.RawMessage `json:"blocks"`
	Toast  json.RawMessage   `json:"toast,omitempty"`
}

// decodedBlock is one block that passed its checks.
type decodedBlock struct {
	tmpl string
	data any
}

// parseAnswer decodes an admin route's answer. Blocks that fail are
// dropped; dropped says which and why, for the plugin's log.
func parseAnswer(body []byte) (blocks []decodedBlock, toast string, dropped []string, err error) {
	var ans blockAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, "", nil, fmt.Errorf("the admin route must answer an object {blocks: [...], toast?}: %v", err)
	}
	if len(ans.Toast) > 0 && string(ans.Toast) != "null" {
		var t struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(ans.Toast, &toast) != nil {
			if json.Unmarshal(ans.Toast, &t) != nil {
				dropped = append(dropped, "toast: must be a string or {message}")
			}
			toast = t.Message
		}
		if len(toast) > 500 {
			toast = toast[:500]
		}
	}
	for i, raw := range ans.Blocks {
		if i == maxBlocks {
			dropped = append(dropped, fmt.Sprintf("blocks %d to %d: at most %d blocks are shown", i, len(ans.Blocks)-1, maxBlocks))
			break
		}
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			dropped = append(dropped, fmt.Sprintf("block %d: not an object with a type", i))
			continue
		}
		bt, ok := blockTypes[head.Type]
		if !ok {
			dropped = append(dropped, fmt.Sprintf("block %d: unknown type %s", i, strconv.Quote(head.Type)))
			continue
		}
		v, err := bt.decode(raw)
		if err != nil {
			dropped = append(dropped, fmt.Sprintf("block %d (%s): %v", i, head.Type, err))
			continue
		}
		blocks = append(blocks, decodedBlock{tmpl: bt.tmpl, data: v})
	}
	return blocks, toast, dropped, nil
}

// blockCtx is what each block template receives: the block and where its
// actions post.
type blockCtx struct {
	B    any
	CSRF string
	// Action is the URL forms and buttons post to; Origin says which page
	// or widget they came from.
	Action string
	Origin string
	// Form prefixes the ids of form controls, keeping them unique on a
	// dashboard showing several widgets.
	Form string
}

// renderBlocks draws each block with its template. html/template escapes
// every string the plugin sent.
func renderBlocks(blocks []decodedBlock, base blockCtx) (template.HTML, error) {
	tpls, err := loadAdminTemplates()
	if err != nil {
		return "", err
	}
	t := tpls["blocks"]
	if t == nil {
		return "", errors.New("admin template blocks does not exist")
	}
	var buf bytes.Buffer
	for i, b := range blocks {
		c := base
		c.B = b.data
		c.Form = fmt.Sprintf("%s-%d", base.Form, i)
		if err := t.ExecuteTemplate(&buf, b.tmpl, c); err != nil {
			return "", fmt.Errorf("render %s: %w", b.tmpl, err)
		}
	}
	return template.HTML(buf.String()), nil //nolint:gosec // html/template output
}
