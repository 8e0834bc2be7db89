// Package emdash brings EmDash plugins to Pilcrow unchanged (SPEC §11 "EmDash
// plugins"): it reads EmDash's sandboxed bundle (.tar.gz with manifest.json
// and backend.js) and source folder (emdash-plugin.jsonc and src/), translates
// EmDash's manifest into a Pilcrow manifest, refusing with one problem per
// feature what Pilcrow cannot honour, and builds the plugin script: EmDash's
// ES module wrapped by the host's adapter (shim.js), which gives the plugin
// EmDash's ctx, event, route and Block Kit shapes on top of Pilcrow's ctx.
//
// What comes out is an ordinary Pilcrow bundle (or plugin folder), so the
// install, consent, grants, limits and every check after it are Pilcrow's own:
// an EmDash plugin gets no path around them. The manifest's "origin" records
// the translation for the consent screen.
//
// The formats were learnt from EmDash's public source; nothing of it is
// copied here. docs/emdash.md is the table of what maps and what is refused.
package emdash
