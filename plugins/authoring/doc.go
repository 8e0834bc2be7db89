// Package authoring holds what plugin authors use through `pilcrow plugin …`:
// bundling a plugin's TypeScript or ESM source into the one script the sandbox
// runs (Build), scaffolding a new plugin folder (Scaffold), and generating the
// `.d.ts` that types a plugin's `ctx` from its capabilities (Types).
//
// The script contract (docs/architecture.md): Build emits an ES2017 IIFE with
// the global name "__pilcrow"; evaluating it defines globalThis.__pilcrow, whose
// `default` property is the plugin's default export
// `{hooks: {...}, routes: {...}}`.
package authoring
