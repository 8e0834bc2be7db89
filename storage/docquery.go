package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Query limits. A where names each field once, and only indexed fields (at
// most 8 indexes of 4 fields each), so these bound the SQL a query builds.
const (
	MaxQueryLimit     = 1000
	DefaultQueryLimit = 50
	MaxInValues       = 100
	MaxOrderFields    = 4
	maxWhereFields    = 16
	maxCursorBytes    = 4096
)

var fieldRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)

// condKind is the form of one field's condition.
type condKind uint8

const (
	condEq condKind = iota + 1
	condIn
	condRange
)

// Cond is the condition on one field of a where: equality with one value
// (null included), one of several values, or a range of keys. Ranges are
// typed: {gt: 5} matches numbers only, {startsWith: "a"} strings only.
type Cond struct {
	Field string
	kind  condKind
	eq    []byte
	in    [][]byte
	lo    []byte
	hi    []byte
	loInc bool
	hiInc bool
}

// OrderField is one field of an orderBy.
type OrderField struct {
	Field string
	Desc  bool
}

// DocQuery is a parsed ctx.storage query.
type DocQuery struct {
	Where   []Cond
	OrderBy []OrderField
	Limit   int
	Cursor  string
}

// ParseDocQuery parses query({where, orderBy, limit, cursor}) as JSON (null
// or empty: every document, default limit).
func ParseDocQuery(raw json.RawMessage) (DocQuery, error) {
	q := DocQuery{Limit: DefaultQueryLimit}
	if isNull(raw) {
		return q, nil
	}
	var opts map[string]json.RawMessage
	if err := json.Unmarshal(raw, &opts); err != nil {
		return q, invalid("the query must be an object {where, orderBy, limit, cursor}")
	}
	for k := range opts {
		switch k {
		case "where", "orderBy", "limit", "cursor":
		default:
			return q, invalid("unknown query option %q (use where, orderBy, limit, cursor)", truncateText(k, 64))
		}
	}
	var err error
	if q.Where, err = ParseWhere(opts["where"]); err != nil {
		return q, err
	}
	if q.OrderBy, err = parseOrderBy(opts["orderBy"]); err != nil {
		return q, err
	}
	if raw := opts["limit"]; !isNull(raw) {
		n, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
		if err != nil || n < 1 || n > MaxQueryLimit {
			return q, invalid("limit must be a whole number from 1 to %d", MaxQueryLimit)
		}
		q.Limit = n
	}
	if raw := opts["cursor"]; !isNull(raw) {
		if err := json.Unmarshal(raw, &q.Cursor); err != nil {
			return q, invalid("cursor must be the string a previous query returned")
		}
	}
	return q, nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// ParseWhere parses a where object: {field: value | null | {in: [...]} |
// {gt|gte|lt|lte: v} | {startsWith: "..."}}, operators of one field ANDed.
func ParseWhere(raw json.RawMessage) ([]Cond, error) {
	if isNull(raw) {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, invalid("where must be an object of field conditions")
	}
	if len(fields) > maxWhereFields {
		return nil, invalid("where names %d fields; at most %d", len(fields), maxWhereFields)
	}
	out := make([]Cond, 0, len(fields))
	for f, v := range fields {
		if !fieldRE.MatchString(f) {
			return nil, invalid("where field %q is not a field name", truncateText(f, 64))
		}
		c, err := parseCond(f, v)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Cond) int { return strings.Compare(a.Field, b.Field) })
	return out, nil
}

func whereValue(field string, raw json.RawMessage, what string) (scalar, error) {
	v, ok, err := decodeScalar(raw)
	if err != nil {
		return nil, invalid("where %s: %v", field, err)
	}
	if !ok {
		return nil, invalid("where %s: %s must be a string, number, boolean or null", field, what)
	}
	if s, isStr := v.(string); isStr && len(s) > MaxIndexedValueBytes {
		return nil, invalid("where %s: a value of %d bytes can match nothing: indexed strings hold at most %d", field, len(s), MaxIndexedValueBytes)
	}
	return v, nil
}

func parseCond(field string, raw json.RawMessage) (Cond, error) {
	c := Cond{Field: field}
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '[' {
		return c, invalid("where %s: to match one of several values write {in: [...]}", field)
	}
	if len(t) == 0 || t[0] != '{' {
		v, err := whereValue(field, raw, "the value")
		if err != nil {
			return c, err
		}
		c.kind, c.eq = condEq, scalarKey(v)
		return c, nil
	}
	var ops map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		return c, invalid("where %s: not a condition object", field)
	}
	if len(ops) == 0 {
		return c, invalid("where %s: an empty condition; give a value or an operator (in, gt, gte, lt, lte, startsWith)", field)
	}
	if _, ok := ops["in"]; ok && len(ops) > 1 {
		return c, invalid("where %s: in cannot be combined with other operators", field)
	}
	var rangeTag byte
	bound := func(op string, v scalar) ([]byte, error) {
		var tag byte
		switch v.(type) {
		case float64:
			tag = tagNumber
		case string:
			tag = tagString
		default:
			return nil, invalid("where %s: %s takes a number or a string", field, op)
		}
		if rangeTag != 0 && rangeTag != tag {
			return nil, invalid("where %s: the bounds of a range must all be numbers or all strings", field)
		}
		rangeTag = tag
		return scalarKey(v), nil
	}
	c.kind = condRange
	var lo, hi []byte
	loInc, hiInc := true, false
	setLo := func(k []byte, inc bool) {
		if lo == nil || bytes.Compare(k, lo) > 0 || (bytes.Equal(k, lo) && !inc) {
			lo, loInc = k, inc
		}
	}
	setHi := func(k []byte, inc bool) {
		if hi == nil || bytes.Compare(k, hi) < 0 || (bytes.Equal(k, hi) && !inc) {
			hi, hiInc = k, inc
		}
	}
	for _, op := range sortedKeys(ops) {
		arg := ops[op]
		switch op {
		case "in":
			var items []json.RawMessage
			if err := json.Unmarshal(arg, &items); err != nil {
				return c, invalid("where %s: in takes an array of values", field)
			}
			if len(items) == 0 || len(items) > MaxInValues {
				return c, invalid("where %s: in takes 1 to %d values, not %d", field, MaxInValues, len(items))
			}
			c.kind = condIn
			for _, it := range items {
				v, err := whereValue(field, it, "each value of in")
				if err != nil {
					return c, err
				}
				c.in = append(c.in, scalarKey(v))
			}
			return c, nil
		case "gt", "gte", "lt", "lte":
			v, err := whereValue(field, arg, op)
			if err != nil {
				return c, err
			}
			k, err := bound(op, v)
			if err != nil {
				return c, err
			}
			switch op {
			case "gt":
				setLo(k, false)
			case "gte":
				setLo(k, true)
			case "lt":
				setHi(k, false)
			case "lte":
				setHi(k, true)
			}
		case "startsWith":
			var s string
			if err := json.Unmarshal(arg, &s); err != nil {
				return c, invalid("where %s: startsWith takes a string", field)
			}
			if len(s) > MaxIndexedValueBytes {
				return c, invalid("where %s: a prefix of %d bytes can match nothing: indexed strings hold at most %d", field, len(s), MaxIndexedValueBytes)
			}
			if _, err := bound(op, s); err != nil {
				return c, err
			}
			k := stringKey(s)
			setLo(k, true)
			// No UTF-8 byte is 0xFF, so every string with the prefix sorts
			// below prefix+0xFF, and every other string above it or below
			// the prefix.
			setHi(append(k, 0xFF), false)
		default:
			return c, invalid("where %s: unknown operator %q (use in, gt, gte, lt, lte, startsWith)", field, truncateText(op, 64))
		}
	}
	// A range holds values of its bounds' type only.
	if lo == nil {
		lo, loInc = []byte{rangeTag}, true
	}
	if hi == nil {
		hi, hiInc = []byte{rangeTag + 1}, false
	}
	c.lo, c.hi, c.loInc, c.hiInc = lo, hi, loInc, hiInc
	return c, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// parseOrderBy accepts "field", "-field" (descending), {field: "asc"|"desc",
// …} (EmDash's form; key order is the order), or an array of those.
func parseOrderBy(raw json.RawMessage) ([]OrderField, error) {
	if isNull(raw) {
		return nil, nil
	}
	var out []OrderField
	add := func(f string, desc bool) error {
		if !fieldRE.MatchString(f) {
			return invalid("orderBy field %q is not a field name", truncateText(f, 64))
		}
		if slices.ContainsFunc(out, func(o OrderField) bool { return o.Field == f }) {
			return invalid("orderBy names field %q twice", f)
		}
		if len(out) == MaxOrderFields {
			return invalid("orderBy takes at most %d fields", MaxOrderFields)
		}
		out = append(out, OrderField{Field: f, Desc: desc})
		return nil
	}
	var one func(raw json.RawMessage, top bool) error
	one = func(raw json.RawMessage, top bool) error {
		t := bytes.TrimSpace(raw)
		switch {
		case len(t) > 0 && t[0] == '"':
			var s string
			if err := json.Unmarshal(t, &s); err != nil {
				return invalid("orderBy: not a string")
			}
			f, desc := strings.CutPrefix(s, "-")
			return add(f, desc)
		case len(t) > 0 && t[0] == '{':
			dec := json.NewDecoder(bytes.NewReader(t))
			_, _ = dec.Token() // {
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return invalid("orderBy: not an object of field directions")
				}
				f, _ := tok.(string)
				var dir string
				if err := dec.Decode(&dir); err != nil || (dir != "asc" && dir != "desc") {
					return invalid("orderBy %s: the direction must be \"asc\" or \"desc\"", truncateText(f, 64))
				}
				if err := add(f, dir == "desc"); err != nil {
					return err
				}
			}
			return nil
		case top && len(t) > 0 && t[0] == '[':
			var items []json.RawMessage
			if err := json.Unmarshal(t, &items); err != nil {
				return invalid("orderBy: not an array")
			}
			if len(items) > MaxOrderFields {
				return invalid("orderBy takes at most %d fields", MaxOrderFields)
			}
			for _, it := range items {
				if err := one(it, false); err != nil {
					return err
				}
			}
			return nil
		}
		return invalid(`orderBy must be a field name ("-field" for descending), {field: "asc" | "desc"} or an array of those`)
	}
	if err := one(raw, true); err != nil {
		return nil, err
	}
	return out, nil
}

// ErrBadCursor refuses a cursor that was not issued for this query.
var ErrBadCursor = fmt.Errorf("%w: the cursor is not one this query returned", ErrInvalid)

// orderCol is one column of a query's order: an index key column, or the
// document id (the tie-break that makes the order total).
type orderCol struct {
	expr string
	desc bool
	id   bool
}

// plan is the SQL of one query: FROM, WHERE and the order of its rows.
type plan struct {
	from  string
	where []string
	args  []any
	order []orderCol
	// docsAlias is how the documents table is named in from ("" when a
	// count needs no documents).
	idExpr string
	// shape fingerprints the query for its cursors.
	shape []byte
}

// planQuery chooses how to answer where+order from the collection's
// indexes. The driving index is the one that serves the most of the query
// in its own order: the longest prefix of equality conditions, then the
// orderBy fields (or a range on the next field), so a page is one B-tree
// range scan. Other conditions and orders read the other indexes' rows of
// the same document (a primary-key lookup each). withDocs joins the
// documents themselves.
func planQuery(pluginID, collection string, idxs []indexDef, where []Cond, order []OrderField, withDocs bool) (*plan, error) {
	conds := map[string]*Cond{}
	for i := range where {
		conds[where[i].Field] = &where[i]
	}
	covered := func(f string) bool {
		return slices.ContainsFunc(idxs, func(ix indexDef) bool { return ix.position(f) >= 0 })
	}
	for _, c := range where {
		if !covered(c.Field) {
			return nil, invalid("field %q is not indexed in collection %q; add it to storage.%s.indexes in the manifest to query on it", c.Field, collection, collection)
		}
	}
	for _, o := range order {
		if !covered(o.Field) {
			return nil, invalid("field %q is not indexed in collection %q; add it to storage.%s.indexes in the manifest to order by it", o.Field, collection, collection)
		}
	}
	// Ordering by a field held equal orders nothing.
	var red []OrderField
	for _, o := range order {
		if c := conds[o.Field]; c == nil || c.kind != condEq {
			red = append(red, o)
		}
	}

	drive, driveEq, driveScore := -1, 0, 0
	for i, ix := range idxs {
		k := 0
		for k < len(ix.fields) && conds[ix.fields[k]] != nil && conds[ix.fields[k]].kind == condEq {
			k++
		}
		serves := len(red) > 0 && k+len(red) <= len(ix.fields)
		for j := 0; serves && j < len(red); j++ {
			serves = ix.fields[k+j] == red[j].Field
		}
		rangePushed := k < len(ix.fields) && conds[ix.fields[k]] != nil && (len(red) == 0 || red[0].Field == ix.fields[k])
		if k == 0 && !serves && !rangePushed {
			continue
		}
		score := k*10 + 8 - len(ix.fields)
		if serves {
			score += 1000
		}
		if rangePushed {
			score += 5
		}
		if score > driveScore {
			drive, driveEq, driveScore = i, k, score
		}
	}

	p := &plan{}
	aliases := map[int]string{}
	var joins []int
	col := func(f string) string {
		if drive >= 0 {
			if pos := idxs[drive].position(f); pos >= 0 {
				return "k0.k" + strconv.Itoa(pos+1)
			}
		}
		best := -1
		for i, ix := range idxs {
			if pos := ix.position(f); pos >= 0 && (best < 0 || pos < idxs[best].position(f)) {
				best = i
			}
		}
		a, ok := aliases[best]
		if !ok {
			a = "k" + strconv.Itoa(len(aliases)+1)
			aliases[best] = a
			joins = append(joins, best)
		}
		return a + ".k" + strconv.Itoa(idxs[best].position(f)+1)
	}
	var conditions []string
	var condArgs []any
	for _, c := range where {
		expr := col(c.Field)
		switch c.kind {
		case condEq:
			conditions = append(conditions, expr+" = ?")
			condArgs = append(condArgs, c.eq)
		case condIn:
			conditions = append(conditions, expr+" IN ("+placeholders(len(c.in))+")")
			for _, k := range c.in {
				condArgs = append(condArgs, k)
			}
		case condRange:
			lo, hi := " > ?", " < ?"
			if c.loInc {
				lo = " >= ?"
			}
			if c.hiInc {
				hi = " <= ?"
			}
			conditions = append(conditions, expr+lo, expr+hi)
			condArgs = append(condArgs, c.lo, c.hi)
		}
	}

	// The order: the driving index's own order when it serves the query
	// (its key columns after the equality prefix, then the id, all in the
	// direction of the last orderBy field), otherwise the orderBy fields
	// and the id.
	servesOrder := drive >= 0 && len(red) <= len(idxs[drive].fields)-driveEq
	for j := 0; servesOrder && j < len(red); j++ {
		servesOrder = idxs[drive].fields[driveEq+j] == red[j].Field
	}
	idExpr := "d.id"
	if drive >= 0 {
		idExpr = "k0.doc_id"
	}
	last := false
	if len(red) > 0 {
		last = red[len(red)-1].Desc
	}
	if servesOrder {
		for pos := driveEq; pos < 4; pos++ {
			desc := last
			if j := pos - driveEq; j < len(red) {
				desc = red[j].Desc
			}
			p.order = append(p.order, orderCol{expr: "k0.k" + strconv.Itoa(pos+1), desc: desc})
		}
	} else {
		for _, o := range red {
			p.order = append(p.order, orderCol{expr: col(o.Field), desc: o.Desc})
		}
	}
	p.order = append(p.order, orderCol{expr: idExpr, desc: last, id: true})
	p.idExpr = idExpr

	// FROM: the driving index's rows (or the documents) first; CROSS JOIN
	// keeps SQLite from reordering the loop, and is a plain join elsewhere.
	var from []string
	if drive >= 0 {
		from = append(from, "plugin_doc_keys k0")
		p.where = append(p.where, "k0.index_id = ?")
		p.args = append(p.args, idxs[drive].id)
	} else {
		from = append(from, "plugin_docs d")
		p.where = append(p.where, "d.plugin_id = ?", "d.collection = ?")
		p.args = append(p.args, pluginID, collection)
	}
	p.where = append(p.where, conditions...)
	p.args = append(p.args, condArgs...)
	for _, i := range joins {
		a := aliases[i]
		from = append(from, "plugin_doc_keys "+a)
		p.where = append(p.where, a+".index_id = ?", a+".doc_id = "+idExpr)
		p.args = append(p.args, idxs[i].id)
	}
	if drive >= 0 && withDocs {
		from = append(from, "plugin_docs d")
		p.where = append(p.where, "d.plugin_id = ?", "d.collection = ?", "d.id = k0.doc_id")
		p.args = append(p.args, pluginID, collection)
	}
	p.from = strings.Join(from, " CROSS JOIN ")

	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", pluginID, collection)
	for _, c := range where {
		fmt.Fprintf(h, "w%s\x00%d\x00%x\x00%x\x00%x\x00%t%t\x00", c.Field, c.kind, c.eq, c.lo, c.hi, c.loInc, c.hiInc)
		for _, k := range c.in {
			fmt.Fprintf(h, "%x\x00", k)
		}
	}
	for _, o := range p.order {
		fmt.Fprintf(h, "o%s\x00%t\x00", o.expr, o.desc)
	}
	p.shape = h.Sum(nil)
	return p, nil
}

// keyset is the condition selecting the rows after the cursor's position:
// one row-value comparison when every column runs one way (an index range
// scan), expanded otherwise.
func (p *plan) keyset(vals [][]byte) (string, []any) {
	args := make([]any, len(vals))
	for i, v := range vals {
		if p.order[i].id {
			args[i] = string(v)
		} else {
			args[i] = v
		}
	}
	uniform := true
	for _, o := range p.order {
		uniform = uniform && o.desc == p.order[0].desc
	}
	if uniform {
		cols := make([]string, len(p.order))
		for i, o := range p.order {
			cols[i] = o.expr
		}
		op := " > "
		if p.order[0].desc {
			op = " < "
		}
		return "(" + strings.Join(cols, ", ") + ")" + op + "(" + placeholders(len(cols)) + ")", args
	}
	var ors []string
	var out []any
	for i, o := range p.order {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, p.order[j].expr+" = ?")
			out = append(out, args[j])
		}
		op := " > ?"
		if o.desc {
			op = " < ?"
		}
		ands = append(ands, o.expr+op)
		out = append(out, args[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", out
}

// Cursors are base64url of: version 1, the position's order values (each a
// uvarint length and the bytes), and the first 12 bytes of SHA-256 over the
// query's shape and those bytes. A cursor from another query, plugin or
// collection, or one altered, fails the check: it is refused, never
// misread. The values are only ever bound as parameters, so a forged cursor
// could at most move a plugin within its own documents.
const cursorVersion = 1

func (p *plan) encodeCursor(vals [][]byte) string {
	b := []byte{cursorVersion}
	for _, v := range vals {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	sum := sha256.Sum256(append(append([]byte{}, p.shape...), b...))
	return base64.RawURLEncoding.EncodeToString(append(b, sum[:12]...))
}

func (p *plan) decodeCursor(s string) ([][]byte, error) {
	if len(s) > maxCursorBytes {
		return nil, ErrBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 13 || b[0] != cursorVersion {
		return nil, ErrBadCursor
	}
	body, mac := b[:len(b)-12], b[len(b)-12:]
	sum := sha256.Sum256(append(append([]byte{}, p.shape...), body...))
	if !bytes.Equal(sum[:12], mac) {
		return nil, ErrBadCursor
	}
	rest := body[1:]
	var vals [][]byte
	for len(rest) > 0 {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return nil, ErrBadCursor
		}
		vals = append(vals, rest[w:w+int(n)])
		rest = rest[w+int(n):]
	}
	if len(vals) != len(p.order) {
		return nil, ErrBadCursor
	}
	return vals, nil
}

// DocPage is one page of a query.
type DocPage struct {
	Items []Doc
	// Cursor continues after the last item; empty on the last page.
	Cursor string
}

// DocQuery runs a query over a collection's indexes. Only indexed fields can
// be filtered or ordered on. Without orderBy the order is that of the index
// serving the where (then id), or id order without a where; either way it is
// total, and the cursor is a keyset position, so paging while documents are
// added never repeats or skips a document that existed throughout.
func (p *PluginData) DocQuery(ctx context.Context, pluginID, collection string, q DocQuery) (*DocPage, error) {
	if !nameRE.MatchString(collection) || len(collection) > 64 {
		return nil, invalid("collection name %q is not valid", collection)
	}
	if q.Limit <= 0 {
		q.Limit = DefaultQueryLimit
	}
	if q.Limit > MaxQueryLimit {
		return nil, invalid("limit must be a whole number from 1 to %d", MaxQueryLimit)
	}
	idxs, err := loadIndexes(ctx, p.db.Read(), pluginID, collection)
	if err != nil {
		return nil, err
	}
	pl, err := planQuery(pluginID, collection, idxs, q.Where, q.OrderBy, true)
	if err != nil {
		return nil, err
	}
	where, args := pl.where, pl.args
	if q.Cursor != "" {
		vals, err := pl.decodeCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		cond, cargs := pl.keyset(vals)
		where = append(slices.Clip(where), cond)
		args = append(slices.Clip(args), cargs...)
	}
	sel := make([]string, len(pl.order))
	ord := make([]string, len(pl.order))
	for i, o := range pl.order {
		sel[i] = o.expr
		ord[i] = o.expr
		if o.desc {
			ord[i] += " DESC"
		}
	}
	sqlq := `SELECT d.id, d.data, d.created_at, d.updated_at, ` + strings.Join(sel, ", ") + ` FROM ` + pl.from +
		` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + strings.Join(ord, ", ") + ` LIMIT ?`
	args = append(args, q.Limit+1)
	rows, err := p.db.Read().QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, fmt.Errorf("storage query: %w", err)
	}
	defer rows.Close()
	page := &DocPage{Items: []Doc{}}
	var lastVals [][]byte
	for rows.Next() {
		var d Doc
		var data string
		vals := make([][]byte, len(pl.order))
		dest := []any{&d.ID, &data, &d.CreatedAt, &d.UpdatedAt}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("storage query: %w", err)
		}
		if len(page.Items) == q.Limit {
			page.Cursor = pl.encodeCursor(lastVals)
			break
		}
		d.Data = json.RawMessage(data)
		page.Items = append(page.Items, d)
		lastVals = vals
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage query: %w", err)
	}
	return page, nil
}

// DocCount counts the documents matching where (on indexed fields only).
func (p *PluginData) DocCount(ctx context.Context, pluginID, collection string, where []Cond) (int, error) {
	if !nameRE.MatchString(collection) || len(collection) > 64 {
		return 0, invalid("collection name %q is not valid", collection)
	}
	idxs, err := loadIndexes(ctx, p.db.Read(), pluginID, collection)
	if err != nil {
		return 0, err
	}
	pl, err := planQuery(pluginID, collection, idxs, where, nil, false)
	if err != nil {
		return 0, err
	}
	var n int
	if err := p.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM `+pl.from+` WHERE `+strings.Join(pl.where, " AND "), pl.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage count: %w", err)
	}
	return n, nil
}
