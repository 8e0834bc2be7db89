package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/webhooks"
)

// webhookRoutes is /api/webhooks (SPEC §13), for admins only: webhooks can
// carry every entry's content to another host.
// webhookNotFound is the detail of a missing webhook or delivery.
const webhookNotFound = "there is no such webhook or delivery; it may have been deleted"

func (s *Server) webhookRoutes(r chi.Router) {
	r.Use(s.require(cms.PermManageWebhooks))
	r.Get("/", s.handleListWebhooks)
	r.Post("/", s.handleCreateWebhook)
	r.Get("/{id}", s.handleGetWebhook)
	r.Put("/{id}", s.handleUpdateWebhook)
	r.Delete("/{id}", s.handleDeleteWebhook)
	r.Get("/{id}/deliveries", s.handleListDeliveries)
	r.Get("/{id}/deliveries/{deliveryId}", s.handleGetDelivery)
	r.Post("/{id}/deliveries/{deliveryId}/redeliver", s.handleRedeliver)
}

// webhookList and deliveryList are the list answers.
type (
	webhookList struct {
		Items []webhooks.Webhook `json:"items"`
	}
	deliveryList struct {
		Items []webhooks.Delivery `json:"items"`
	}
)

// webhookError maps the webhooks package's errors to problems.
func (s *Server) webhookError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *webhooks.FieldError
	switch {
	case errors.As(err, &fe):
		writeProblem(w, r, Problem{Status: http.StatusUnprocessableEntity, Title: "Invalid webhook",
			Detail: fe.Error(), Errors: []cms.FieldError{{Path: "/" + fe.Field, Message: fe.Message}}})
	case errors.Is(err, webhooks.ErrNotFound):
		// err names the ids and the sentinel; the client knows the ids.
		problem(w, r, http.StatusNotFound, webhookNotFound)
	default:
		s.writeError(w, r, err)
	}
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	list, err := s.svc.Webhooks.List(r.Context())
	if err != nil {
		s.webhookError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookList{Items: list})
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	var in webhooks.Input
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.svc.Webhooks.Create(r.Context(), in, currentUser(r).ID)
	if err != nil {
		s.webhookError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store") // the secret is in it
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request) {
	h, err := s.svc.Webhooks.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.webhookError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request) {
	var in webhooks.Input
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	h, err := s.svc.Webhooks.Update(r.Context(), chi.URLParam(r, "id"), in)
	if err != nil {
		s.webhookError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Webhooks.Delete(r.Context(), chi.URLParam(r, "id")); err != nil {
		s.webhookError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListDeliveries(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > webhooks.MaxDeliveries {
			problem(w, r, http.StatusBadRequest, "limit must be a number from 1 to "+strconv.Itoa(webhooks.MaxDeliveries))
			return
		}
		limit = n
	}
	list, err := s.svc.Webhooks.Deliveries(r.Context(), chi.URLParam(r, "id"), limit)
	if err != nil {
		s.webhookError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deliveryList{Items: list})
}

func (s *Server) handleGetDelivery(w http.ResponseWriter, r *http.Request) {
	d, err := s.svc.Webhooks.Delivery(r.Context(), chi.URLParam(r, "id"), chi.URLParam(r, "deliveryId"))
	if err != nil {
		s.webhookError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleRedeliver(w http.ResponseWriter, r *http.Request) {
	d, err := s.svc.Webhooks.Redeliver(r.Context(), chi.URLParam(r, "id"), chi.URLParam(r, "deliveryId"))
	if err != nil {
		s.webhookError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, d)
}
