package cms

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// List query syntax (query string of list endpoints):
//
//	limit=20                      1..100, default 20
//	cursor=…                      nextCursor of the previous page
//	sort=-createdAt,title         fields or system columns; "-" is descending
//	status=draft,published        admin lists only; default: all but trashed
//	q=words                       full-text search over string/text/markdown/slug fields
//	filter[title][contains]=x     operators: eq ne lt lte gt gte in contains
//	filter[title]=x               shorthand for [eq]
//	filter[tags][in]=a,b          "in" takes a comma-separated list
//
// Everything here is data: names are checked against the collection's fields
// and values are bound as parameters, never spliced into SQL.

const (
	DefaultLimit = 20
	MaxLimit     = 100
	maxFilters   = 20
	maxSortKeys  = 5
	maxInValues  = 100
	maxValueLen  = 1000
	maxQLen      = 200
	maxCursorLen = 4096
)

// SortKey orders a list by a field or system column.
type SortKey struct {
	Field string
	Desc  bool
}

// Filter restricts a list to entries whose Field compares to Value with Op.
type Filter struct {
	Field string
	Op    string
	Value string
	// Param is the query parameter it came from, for error paths.
	Param string
}

// ListQuery is a parsed, not yet checked, list request.
type ListQuery struct {
	Limit   int
	Cursor  string
	Sort    []SortKey
	Filters []Filter
	Status  []Status
	Q       string
}

var (
	filterKeyRE = regexp.MustCompile(`^filter\[([A-Za-z][A-Za-z0-9_]*)\](?:\[([a-z]+)\])?$`)
	sortNameRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	filterOps   = []string{"eq", "ne", "lt", "lte", "gt", "gte", "in", "contains"}
)

// ParseListQuery reads list parameters, reporting every malformed one with the
// path /query/<parameter>.
func ParseListQuery(vals url.Values) (ListQuery, error) {
	q := ListQuery{Limit: DefaultLimit}
	var v ValidationError
	for _, key := range slices.Sorted(func(yield func(string) bool) {
		for k := range vals {
			if !yield(k) {
				return
			}
		}
	}) {
		path := "/query/" + key
		all := vals[key]
		if len(all) != 1 {
			v.Add(path, "must be given once")
			continue
		}
		val := all[0]
		switch {
		case key == "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > MaxLimit {
				v.Add(path, fmt.Sprintf("must be a whole number from 1 to %d", MaxLimit))
				continue
			}
			q.Limit = n
		case key == "cursor":
			if len(val) > maxCursorLen || val == "" {
				v.Add(path, "is not a cursor this server issued")
				continue
			}
			q.Cursor = val
		case key == "sort":
			parseSort(&v, path, val, &q)
		case key == "status":
			for _, s := range strings.Split(val, ",") {
				st := Status(strings.TrimSpace(s))
				if !st.valid() {
					v.Add(path, fmt.Sprintf("%q is not a status; use draft, scheduled, published or trashed", s))
					continue
				}
				if !slices.Contains(q.Status, st) {
					q.Status = append(q.Status, st)
				}
			}
		case key == "q":
			if len([]rune(val)) > maxQLen {
				v.Add(path, fmt.Sprintf("must be at most %d characters", maxQLen))
				continue
			}
			q.Q = strings.TrimSpace(val)
		case strings.HasPrefix(key, "filter"):
			m := filterKeyRE.FindStringSubmatch(key)
			if m == nil {
				v.Add(path, "must look like filter[field] or filter[field][op]")
				continue
			}
			op := m[2]
			if op == "" {
				op = "eq"
			}
			if !slices.Contains(filterOps, op) {
				v.Add(path, fmt.Sprintf("unknown operator %q; use one of %s", op, strings.Join(filterOps, ", ")))
				continue
			}
			if len(val) > maxValueLen {
				v.Add(path, fmt.Sprintf("must be at most %d bytes", maxValueLen))
				continue
			}
			if len(q.Filters) == maxFilters {
				v.Add(path, fmt.Sprintf("at most %d filters are allowed", maxFilters))
				continue
			}
			q.Filters = append(q.Filters, Filter{Field: m[1], Op: op, Value: val, Param: key})
		default:
			v.Add(path, "is not a known parameter; use limit, cursor, sort, status, q or filter[field][op]")
		}
	}
	return q, v.Err()
}

func parseSort(v *ValidationError, path, val string, q *ListQuery) {
	seen := map[string]bool{}
	for _, part := range strings.Split(val, ",") {
		part = strings.TrimSpace(part)
		k := SortKey{Field: part}
		if strings.HasPrefix(part, "-") {
			k = SortKey{Field: part[1:], Desc: true}
		} else if strings.HasPrefix(part, "+") {
			k.Field = part[1:]
		}
		switch {
		case !sortNameRE.MatchString(k.Field):
			v.Add(path, fmt.Sprintf("%q is not a field name", part))
			continue
		case seen[k.Field]:
			v.Add(path, fmt.Sprintf("sorts by %q twice", k.Field))
			continue
		}
		seen[k.Field] = true
		q.Sort = append(q.Sort, k)
	}
	if len(q.Sort) > maxSortKeys {
		v.Add(path, fmt.Sprintf("at most %d sort keys are allowed", maxSortKeys))
	}
}

// parseTime accepts RFC 3339 with or without fractional seconds.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("year out of range")
	}
	return t, nil
}

// ftsQuery turns free text into an FTS5 query of quoted terms (all must match;
// the last is a prefix), so no user input is ever read as FTS5 syntax.
func ftsQuery(s string) string {
	terms := ftsTerms(s)
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
		if i == len(terms)-1 {
			parts[i] += "*"
		}
	}
	return strings.Join(parts, " ")
}

// ftsTerms are the words of a search, at most 20.
func ftsTerms(s string) []string {
	terms := strings.FieldsFunc(s, func(r rune) bool {
		return !(r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || r > 127)
	})
	if len(terms) > 20 {
		terms = terms[:20]
	}
	return terms
}

// readStmts keeps read-pool statements prepared, one per query text: the
// lists' (a list's text depends only on its shape: collection, filters, sort,
// cursor arms, chosen index; never on values, so a site has few of them;
// parsing and planning one cost about a third of a 20-entry public list) and
// the per-request lookups of an API token and its user.
type readStmts struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// maxReadStmts bounds the cache; past it an arbitrary statement is closed
// (database/sql closes it once no connection uses it).
const maxReadStmts = 256

func (s *readStmts) query(ctx context.Context, db *sql.DB, text string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, db, text)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow is QueryRowContext through the cache; should preparing fail,
// the unprepared query reports the error.
func (s *readStmts) queryRow(ctx context.Context, db *sql.DB, text string, args ...any) *sql.Row {
	st, err := s.stmt(ctx, db, text)
	if err != nil {
		return db.QueryRowContext(ctx, text, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (s *readStmts) stmt(ctx context.Context, db *sql.DB, text string) (*sql.Stmt, error) {
	s.mu.Lock()
	st := s.m[text]
	s.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if have := s.m[text]; have != nil {
		st.Close() // prepared meanwhile by another caller
		return have, nil
	}
	if s.m == nil {
		s.m = map[string]*sql.Stmt{}
	}
	if len(s.m) >= maxReadStmts {
		for k, old := range s.m {
			old.Close()
			delete(s.m, k)
			break
		}
	}
	s.m[text] = st
	return st, nil
}
