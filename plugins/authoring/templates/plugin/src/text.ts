// Pure text helpers, kept apart from the hooks so they are easy to reuse.

/** Average adult silent-reading speed, in words per minute. */
export const WORDS_PER_MINUTE = 200;

/** Minutes needed to read text, rounded up; 0 for empty text. */
export function readingMinutes(text: string): number {
  const words = text
    .replace(/<[^>]*>/g, " ") // ignore HTML tags
    .split(/\s+/)
    .filter((w) => /[0-9A-Za-z\u00C0-\u024F]/.test(w)).length;
  return Math.ceil(words / WORDS_PER_MINUTE);
}

/** Trims a title and collapses runs of whitespace to one space. */
export function tidyTitle(title: string): string {
  return title.trim().replace(/\s+/g, " ");
}
