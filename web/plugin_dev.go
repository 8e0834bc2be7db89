package web

import (
	"net/http"
)

// handleDevInstallPlugin is `pilcrow plugin dev`'s install: on a development
// server (Config.Dev, `pilcrow serve --dev`) the bundle replaces whatever
// version is installed and is activated with everything its manifest asks
// for, consented in the name of the caller. Anywhere else it is refused:
// skipping the consent screen is only for an author's own machine.
func (s *Server) handleDevInstallPlugin(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Dev {
		s.writeError(w, r, &HTTPError{Status: http.StatusForbidden,
			Detail: "this server is not a development server, so plugins are not activated without the admin's consent; start it with `pilcrow serve --dev` (only on your own machine), or upload the bundle and consent in the admin"})
		return
	}
	data, err := readBundlePart(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	info, err := s.svc.Plugins.InstallDev(r.Context(), data, currentUser(r).ID)
	if err != nil {
		s.pluginError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}
