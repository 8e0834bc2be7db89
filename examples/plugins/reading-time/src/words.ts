// Word counting for Markdown, HTML and plain text. Pure functions, kept apart
// from the hook so they are easy to read and to reuse.
//
// The sandbox's regular expressions do not support Unicode property escapes,
// so letters are matched with explicit ranges: Latin (with accents),
// Greek, Cyrillic, Hebrew and Arabic words are runs of letters; Chinese,
// Japanese and Korean characters count as one word each, the usual convention
// for scripts written without spaces.
//
// Mind the engine's regular-expression costs: in goja some patterns are slow
// on text with any non-ASCII character — "\s*\S+" takes tens of milliseconds
// even on a short string, a large share of a hook's CPU budget — so these
// patterns avoid combining \s and \S.

const letters = "0-9A-Za-z\\u00C0-\\u024F\\u0370-\\u03FF\\u0400-\\u04FF\\u0590-\\u05FF\\u0600-\\u06FF";
const ideographs = "\\u3040-\\u30FF\\u3400-\\u4DBF\\u4E00-\\u9FFF\\uAC00-\\uD7AF";

/** A word is a run of letters (apostrophes and hyphens inside it included) or a single ideograph. */
const wordPattern = new RegExp(`[${letters}]+(?:['\u2019-][${letters}]+)*|[${ideographs}]`, "g");

/**
 * Removes the Markdown and HTML syntax that is not read aloud: tags, link and
 * image targets, heading and list markers, emphasis, code fences. The words of
 * link texts, image alt texts and code stay.
 */
export function plainText(source: string): string {
  return source
    .replace(/<!--[\s\S]*?-->/g, " ") // HTML comments
    .replace(/<[^>]*>/g, " ") // HTML tags
    .replace(/^\s{0,3}(```|~~~).*$/gm, " ") // code fence lines (the code itself is read)
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // [text](url) and ![alt](src) keep their text
    .replace(/^ {0,3}\[[^\]\n]+\]:[^\n]*$/gm, " ") // [ref]: https://… definitions
    .replace(/https?:\/\/\S+/g, " ") // bare URLs are not read
    .replace(/[#>*_`~|]/g, " "); // heading, quote, emphasis, code and table markers
}

/** Counts the words of Markdown, HTML or plain text. */
export function countWords(source: string): number {
  return (plainText(source).match(wordPattern) ?? []).length;
}

/**
 * Minutes needed to read words at wordsPerMinute, rounded up so a short note
 * reads "1 min" rather than "0 min"; 0 only when there are no words.
 */
export function readingMinutes(words: number, wordsPerMinute: number): number {
  if (words <= 0) return 0;
  return Math.max(1, Math.ceil(words / wordsPerMinute));
}
