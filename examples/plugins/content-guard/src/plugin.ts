// Content guard: rejects a save that breaks one of the site's editorial rules.
//
// The rules come from the settings: banned words (one per line), a maximum
// title length, and required fields per collection. A save that breaks any of
// them is rejected by throwing; Pilcrow shows the message to the editor, with
// the plugin's name, and nothing is stored. Every broken rule is reported at
// once, each named, so the editor can fix everything in one go:
//
//   Rejected by content guard: banned words: "lorem ipsum" appears in body;
//   required fields: posts need summary
//
// The hook runs early (priority 10) so later hooks never work on an entry that
// is going to be rejected anyway. It never changes the data.

import { bannedWords, lines, missingFields, parseRequired, titleTooLong } from "./rules";

export default {
  hooks: {
    "content:beforeSave": (event, ctx) => {
      const violations: string[] = [];

      const banned = bannedWords(event.data, lines(ctx.settings.bannedWords));
      if (banned.length > 0) violations.push(`banned words: ${banned.join(", ")}`);

      const titleField = String(ctx.settings.titleField ?? "").trim() || "title";
      const long = titleTooLong(event.data, titleField, Number(ctx.settings.maxTitleLength ?? 0));
      if (long) violations.push(`maximum title length: ${long}`);

      const required = parseRequired(ctx.settings.requiredFields).get(event.collection) ?? [];
      const missing = missingFields(event.data, required);
      if (missing.length > 0) violations.push(`required fields: ${event.collection} need ${missing.join(", ")}`);

      if (violations.length > 0) {
        throw new Error(`Rejected by content guard: ${violations.join("; ")}`);
      }
      // Returning nothing keeps the data unchanged.
    },
  },
} satisfies Pilcrow.Plugin;
