// Reading time: on every save, counts the words of the entry's text fields and
// stores the reading time (and optionally the word count) in number fields.
//
// Which entries get the field? The hook sees the entry's data, not its
// collection's schema, and whatever it returns is validated against the
// collection again — writing a field the collection does not have would make
// the save fail. So it writes only where the field is known to exist:
//   - in the collections the admin lists in the "collections" setting, or
//   - in any entry whose data already carries the field (even as null).
// Everywhere else it returns nothing and the entry is saved unchanged.
//
// The hook runs late (priority 900) so it counts the text as earlier hooks
// left it.

import { countWords, readingMinutes } from "./words";

const DEFAULT_WPM = 200;

/** Splits a comma- or newline-separated setting into trimmed, non-empty names. */
function names(value: unknown): string[] {
  return String(value ?? "")
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The reading speed from the settings, falling back to the default when unusable. */
function wordsPerMinute(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) && n >= 1 ? n : DEFAULT_WPM;
}

export default {
  hooks: {
    "content:beforeSave": (event, ctx) => {
      const field = String(ctx.settings.field ?? "").trim() || "reading_time";
      const countField = String(ctx.settings.wordCountField ?? "").trim();
      const listed = names(ctx.settings.collections).includes(event.collection);
      const has = (key: string) => Object.prototype.hasOwnProperty.call(event.data, key);

      const writeMinutes = listed || has(field);
      const writeCount = countField !== "" && (listed || has(countField));
      if (!writeMinutes && !writeCount) return; // this collection has neither field

      let words = 0;
      for (const source of names(ctx.settings.sourceFields ?? "body, content")) {
        const value = event.data[source];
        if (typeof value === "string") words += countWords(value);
      }
      const minutes = readingMinutes(words, wordsPerMinute(ctx.settings.wordsPerMinute));

      const data = { ...event.data };
      if (writeMinutes) data[field] = minutes;
      if (writeCount) data[countField] = words;
      if (data[field] === event.data[field] && (!writeCount || data[countField] === event.data[countField])) {
        return; // already up to date: keep the data as it is
      }
      ctx.log.debug("reading time", { collection: event.collection, id: event.id, words, minutes });
      return data;
    },
  },
} satisfies Pilcrow.Plugin;
