// Text helpers: turning an entry's body into a short plain-text description.

/** Strips HTML tags, headings and the Markdown syntax that would look odd in a snippet. */
export function plainText(source: string): string {
  return source
    .replace(/<!--[\s\S]*?-->/g, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/^\s{0,3}(```|~~~).*$/gm, " ")
    .replace(/!\[[^\]]*\]\([^)]*\)/g, " ") // images say nothing in a description
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1") // links keep their text
    .replace(/^\s{0,3}#{1,6}\s.*$/gm, " ") // headings repeat the title; a snippet reads better without them
    .replace(/^\s{0,3}(>|[-*+]|\d+[.)])\s+/gm, "") // quote and list markers
    .replace(/[*_`~]/g, "");
}

/** Collapses runs of whitespace (including newlines) to one space and trims. */
export function squash(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * Shortens text to at most max characters, cutting at the last word boundary
 * and adding an ellipsis; text that fits is returned as it is. Counts code
 * points, so it never splits a character made of two UTF-16 units.
 */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  let cut = chars.slice(0, max - 1).join("");
  const space = cut.lastIndexOf(" ");
  if (space > max / 2) cut = cut.slice(0, space);
  return cut.replace(/[\s,.;:!?-]+$/, "") + "\u2026";
}
