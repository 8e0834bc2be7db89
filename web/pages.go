package web

import (
	_ "embed"
	"net/http"
)

// The site's icon: a browser asks every origin for /favicon.ico (for the
// admin, the setup page, a JSON answer opened in a tab), and a missing one
// is a 404 in every page's log. A 32×32 PNG in an ICO container, which every
// browser reads; the pages link it explicitly too.
//
//go:embed favicon.ico
var favicon []byte

func handleFavicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "image/x-icon")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(favicon)
}

// pageStyle is what the stand-alone pages (setup, invite, password reset)
// need to look like the admin: its stylesheet, when the admin is mounted.
type pageStyle struct {
	// CSS is the admin stylesheet's path; empty without an admin.
	CSS string
}

func (s *Server) pageStyle() pageStyle {
	if s.svc.Admin == nil {
		return pageStyle{}
	}
	return pageStyle{CSS: "/admin/static/admin.css"}
}

// pageCSP is the stand-alone pages' policy: no script at all, styles and
// the icon from this origin only.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pageHead and pageTop are the shared top of the stand-alone pages, in the
// admin's markup so its stylesheet applies.
const pageHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.ico">{{with .Style.CSS}}<link rel="stylesheet" href="{{.}}">{{end}}`

const pageTop = `<body><header class="top"><span class="brand">¶ Pilcrow</span></header>
<main id="main"><section class="narrow">`

const pageBottom = `</section></main></body></html>`
