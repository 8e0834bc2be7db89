package admin

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web"
)

// dashEntry is an entry with its collection's label, for cross-collection lists.
type dashEntry struct {
	Collection *cms.Collection
	Entry      *cms.Entry
	Title      string
}

type dashboardView struct {
	Recent    []dashEntry
	Scheduled []dashEntry
	Plugins   *pluginHealth
	// Widgets are the active plugins' dashboard widgets, for admins.
	Widgets []blocksView
	// Health is the site-health card, for admins.
	Health *healthView
}

const dashboardPerList = 10

func (s *UI) handleAdminDashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := web.CurrentUser(r)
	var v dashboardView
	if s.svc.Content != nil {
		cols, err := s.svc.Content.ListCollections(ctx)
		if err != nil {
			s.adminFail(w, r, err)
			return
		}
		for _, col := range cols {
			recent, err := s.adminEntries(r, u, col, url.Values{"sort": {"-updatedAt"}, "limit": {"10"}})
			if err != nil {
				s.adminFail(w, r, err)
				return
			}
			v.Recent = append(v.Recent, recent...)
			sched, err := s.adminEntries(r, u, col, url.Values{"status": {"scheduled"}, "limit": {"10"}})
			if err != nil {
				s.adminFail(w, r, err)
				return
			}
			v.Scheduled = append(v.Scheduled, sched...)
		}
	}
	slices.SortFunc(v.Recent, func(a, b dashEntry) int { return b.Entry.UpdatedAt.Compare(a.Entry.UpdatedAt) })
	v.Recent = v.Recent[:min(len(v.Recent), dashboardPerList)]
	slices.SortFunc(v.Scheduled, func(a, b dashEntry) int {
		if a.Entry.ScheduledAt == nil || b.Entry.ScheduledAt == nil {
			return 0
		}
		return a.Entry.ScheduledAt.Compare(*b.Entry.ScheduledAt)
	})
	v.Scheduled = v.Scheduled[:min(len(v.Scheduled), dashboardPerList)]
	if u.Can(cms.PermManagePlugins) {
		h, err := s.adminPluginHealth(r)
		if err != nil {
			s.adminFail(w, r, err)
			return
		}
		v.Plugins = h
		v.Health = s.siteHealth(r)
		if v.Widgets, err = s.adminWidgets(r); err != nil {
			s.adminFail(w, r, err)
			return
		}
	}
	s.adminRender(w, r, http.StatusOK, "dashboard", &adminPage{Title: "Dashboard", Nav: "dashboard", Data: v})
}

// adminEntries lists one collection's entries with list parameters q.
func (s *UI) adminEntries(r *http.Request, u *cms.User, col *cms.Collection, q url.Values) ([]dashEntry, error) {
	lq, err := cms.ParseListQuery(q)
	if err != nil {
		return nil, err
	}
	page, err := s.svc.Content.ListEntries(r.Context(), u, col.Name, lq)
	if err != nil {
		return nil, err
	}
	out := make([]dashEntry, len(page.Items))
	for i, e := range page.Items {
		out[i] = dashEntry{Collection: col, Entry: e, Title: entryTitle(col, e)}
	}
	return out, nil
}

// entryTitle is what lists show for an entry: its first non-empty string
// field, else its slug, else its id.
func entryTitle(col *cms.Collection, e *cms.Entry) string {
	for _, f := range col.Fields {
		if f.Type == cms.TypeString {
			if s, ok := e.Data[f.Name].(string); ok && s != "" {
				return s
			}
		}
	}
	if e.Slug != "" {
		return e.Slug
	}
	return e.ID
}
