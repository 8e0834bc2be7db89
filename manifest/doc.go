// Package manifest defines the plugin manifest (manifest.json): its Go types, the
// JSON Schema embedded in the binary (also published as docs/manifest.schema.json),
// the semantic rules the schema cannot express, the host-pattern matcher used by the
// CLI, the consent screen and the egress client, and the plain-language consent text
// and upgrade diffs shown to site admins.
//
// Parse is the single entry point for untrusted manifest bytes: it reports every
// problem at once, each with a JSON pointer and a line:column in the source, and only
// returns a Manifest when there are none.
package manifest
