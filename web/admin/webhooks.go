package admin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web"
	"github.com/pilcrow-cms/pilcrow/webhooks"
)

// The webhooks pages: the list with the create form (the secret shown once,
// rendered directly so it never sits in a URL), delete, and one webhook's
// deliveries with a redeliver button. Admins only, like /api/webhooks.
func (s *UI) adminWebhookRoutes(r chi.Router) {
	if s.svc.Webhooks == nil {
		return
	}
	r.Group(func(r chi.Router) {
		r.Use(s.adminRequire(cms.PermManageWebhooks))
		r.Get("/webhooks", s.handleAdminWebhooks)
		r.Post("/webhooks", s.handleAdminCreateWebhook)
		r.Get("/webhooks/{id}", s.handleAdminWebhook)
		r.Post("/webhooks/{id}/delete", s.handleAdminDeleteWebhook)
		r.Post("/webhooks/{id}/deliveries/{deliveryId}/redeliver", s.handleAdminRedeliver)
	})
}

type webhooksView struct {
	Webhooks []webhooks.Webhook
	Events   []string
	Created  *webhooks.Created
	Form     webhooks.Input
	Errs     map[string][]string
}

func (s *UI) renderWebhooks(w http.ResponseWriter, r *http.Request, status int, v webhooksView, pageErr string) {
	list, err := s.svc.Webhooks.List(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	v.Webhooks, v.Events = list, append([]string{webhooks.AllEvents}, webhooks.EventTypes...)
	s.adminRender(w, r, status, "webhooks", &adminPage{Title: "Webhooks", Nav: "webhooks", Error: pageErr, Data: v})
}

func (s *UI) handleAdminWebhooks(w http.ResponseWriter, r *http.Request) {
	s.renderWebhooks(w, r, http.StatusOK, webhooksView{}, "")
}

func (s *UI) handleAdminCreateWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	in := webhooks.Input{URL: strings.TrimSpace(r.PostForm.Get("url")), Events: r.PostForm["events"]}
	for _, c := range strings.Split(r.PostForm.Get("collections"), ",") {
		if c = strings.TrimSpace(c); c != "" {
			in.Collections = append(in.Collections, c)
		}
	}
	c, err := s.svc.Webhooks.Create(r.Context(), in, web.CurrentUser(r).ID)
	var fe *webhooks.FieldError
	if errors.As(err, &fe) {
		path := "/" + strings.SplitN(fe.Field, "/", 2)[0]
		s.renderWebhooks(w, r, http.StatusUnprocessableEntity, webhooksView{Form: in, Errs: map[string][]string{path: {fe.Message}}},
			"The webhook was not created: fix the problem marked below.")
		return
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.renderWebhooks(w, r, http.StatusCreated, webhooksView{Created: c}, "")
}

func (s *UI) handleAdminDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	if err := s.svc.Webhooks.Delete(r.Context(), chi.URLParam(r, "id")); err != nil {
		s.webhookFail(w, r, err)
		return
	}
	redirectNotice(w, r, "/admin/webhooks", "deleted")
}

type webhookView struct {
	Webhook    *webhooks.Webhook
	Deliveries []webhooks.Delivery
}

func (s *UI) handleAdminWebhook(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	h, err := s.svc.Webhooks.Get(r.Context(), id)
	if err != nil {
		s.webhookFail(w, r, err)
		return
	}
	ds, err := s.svc.Webhooks.Deliveries(r.Context(), id, 50)
	if err != nil {
		s.webhookFail(w, r, err)
		return
	}
	s.adminRender(w, r, http.StatusOK, "webhook", &adminPage{Title: "Webhook " + h.URL, Nav: "webhooks",
		Data: webhookView{Webhook: h, Deliveries: ds}})
}

func (s *UI) handleAdminRedeliver(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	id := chi.URLParam(r, "id")
	if _, err := s.svc.Webhooks.Redeliver(r.Context(), id, chi.URLParam(r, "deliveryId")); err != nil {
		s.webhookFail(w, r, err)
		return
	}
	redirectNotice(w, r, "/admin/webhooks/"+id, "redelivered")
}

func (s *UI) webhookFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, webhooks.ErrNotFound) {
		s.adminError(w, r, http.StatusNotFound, "There is no such webhook or delivery; it may have been deleted.")
		return
	}
	s.adminFail(w, r, err)
}
