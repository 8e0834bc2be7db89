(() => {
  // src/plugin.js
  var plugin_default = { hooks: { "content:beforeSave": (event, ctx) => {
  } } };

  // pilcrow:entry
  globalThis.__pilcrow = { default: plugin_default };
})();
//# sourceMappingURL=data:application/json;base64,ewogICJ2ZXJzaW9uIjogMywKICAic291cmNlcyI6IFsic3JjL3BsdWdpbi5qcyIsICIuL3BpbGNyb3c6ZW50cnkiXSwKICAibWFwcGluZ3MiOiAiOztBQUFBLE1BQU8saUJBQVEsRUFBRSxPQUFPLEVBQUUsc0JBQXNCLENBQUMsT0FBTyxRQUFRO0FBQUEsRUFBQyxFQUFFLEVBQUU7OztBQ0NyRSxhQUFXLFlBQVksRUFBRSxTQUFnQixlQUFROyIsCiAgIm5hbWVzIjogW10KfQo=
