// The guard's rules as pure functions over an entry's data. Each returns the
// violations it found as sentences; the hook joins them into one message.

/** Lines of a multi-line setting, trimmed, without blanks and # comments. */
export function lines(value: unknown): string[] {
  return String(value ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

// Characters that make up words. Explicit ranges, because the sandbox's regular
// expressions cannot use Unicode property escapes.
const wordChar = /[0-9A-Za-z\u00C0-\u024F\u0370-\u03FF\u0400-\u04FF]/;

/** Whether needle occurs in haystack (both lower-case) as a whole word or phrase. */
function containsWord(haystack: string, needle: string): boolean {
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
    const before = at === 0 ? "" : haystack[at - 1];
    const after = haystack.charAt(at + needle.length);
    if (!wordChar.test(before) && !wordChar.test(after)) return true;
  }
  return false;
}

/** Every string in value with the path where it was found ("body", "tags[2]", "seo.title"). */
function strings(value: unknown, path: string, out: Array<[string, string]>, depth = 0): void {
  if (depth > 20) return; // entry data is shallow; stop at pathological nesting
  if (typeof value === "string") {
    out.push([path, value]);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => strings(v, `${path}[${i}]`, out, depth + 1));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) strings(v, path ? `${path}.${k}` : k, out, depth + 1);
  }
}

/** Banned words and phrases found in any text of data, each with the first field it appears in. */
export function bannedWords(data: Record<string, unknown>, banned: string[]): string[] {
  const texts: Array<[string, string]> = [];
  strings(data, "", texts);
  const found: string[] = [];
  for (const word of banned) {
    const needle = word.toLowerCase();
    const hit = texts.find(([, text]) => containsWord(text.toLowerCase(), needle));
    if (hit) found.push(`"${word}" appears in ${hit[0]}`);
  }
  return found;
}

/** The title's length in characters (not UTF-16 units) when it is over max; null when fine. */
export function titleTooLong(data: Record<string, unknown>, field: string, max: number): string | null {
  const title = data[field];
  if (!(max > 0) || typeof title !== "string") return null;
  const length = Array.from(title.trim()).length;
  return length > max ? `${field} is ${length} characters long; the limit is ${max}` : null;
}

/** Parses "posts: summary, coverImage" lines into collection → required fields. */
export function parseRequired(setting: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of lines(setting)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue; // not "collection: fields"; ignored rather than blocking every save
    const collection = line.slice(0, colon).trim();
    const fields = line.slice(colon + 1).split(",").map((f) => f.trim()).filter(Boolean);
    out.set(collection, [...(out.get(collection) ?? []), ...fields]);
  }
  return out;
}

/** Required fields that are absent, null, blank strings or empty lists. */
export function missingFields(data: Record<string, unknown>, required: string[]): string[] {
  return required.filter((field) => {
    const v = data[field];
    return v === undefined || v === null || (typeof v === "string" && v.trim() === "") || (Array.isArray(v) && v.length === 0);
  });
}
