// SEO meta: describes each published entry to search engines and social
// networks. For the entry a public page shows it contributes
//   - <meta name="description"> and Open Graph / Twitter card tags,
//   - <link rel="canonical"> built from the site URL and the entry's path,
//   - an Article in JSON-LD (headline, dates, image, author, publisher).
//
// The description is the entry's "description", "summary" or "excerpt" field
// (the first that is a non-empty string), else the beginning of its "body" or
// "content" as plain text.
//
// Values are returned as plain data, exactly as written by the editor: Pilcrow
// escapes every contribution when it renders the page (and checks link rel
// values against its allowlist), so a plugin must not escape them itself —
// doing so would double-escape.

import { plainText, squash, truncate } from "./text";

type Meta = NonNullable<Pilcrow.PageMetadata["meta"]>[number];

/** The first of data's keys whose value is a non-blank string, as written. */
function firstString(data: Pilcrow.EntryData, keys: string[]): string {
  for (const key of keys) {
    const v = data[key];
    if (typeof v === "string" && v.trim() !== "") return v;
  }
  return "";
}

/** firstString on one line: runs of whitespace collapsed. */
function firstText(data: Pilcrow.EntryData, keys: string[]): string {
  return squash(firstString(data, keys));
}

/** An absolute http(s) URL from a field value: a string, or an object with a url (a media item). */
function absoluteUrl(value: unknown, base: string): string {
  let url = typeof value === "string" ? value : "";
  if (value !== null && typeof value === "object" && typeof (value as { url?: unknown }).url === "string") {
    url = (value as { url: string }).url;
  }
  url = url.trim();
  if (/^https?:\/\//i.test(url)) return url;
  if (url.startsWith("/") && !url.startsWith("//") && base) return base + url;
  return ""; // relative paths without a site URL, data: and javascript: URLs are dropped
}

export default {
  hooks: {
    "page:metadata": (event, ctx) => {
      const siteName = String(ctx.settings.siteName ?? "").trim();
      const base = String(ctx.settings.baseUrl ?? "").trim().replace(/\/+$/, "");
      const template = String(ctx.settings.pathTemplate ?? "").trim() || "/{collection}/{slug}";
      const maxLength = Math.max(50, Number(ctx.settings.descriptionLength) || 160);

      const title = firstText(event.data, ["seoTitle", "title"]) || event.slug;
      let description = firstText(event.data, ["description", "summary", "excerpt"]);
      if (!description) description = squash(plainText(firstString(event.data, ["body", "content"])));
      description = truncate(description, maxLength);

      const path = template
        .replace(/\{collection\}/g, encodeURIComponent(event.collection))
        .replace(/\{slug\}/g, encodeURIComponent(event.slug));
      const url = base ? base + (path.startsWith("/") ? path : "/" + path) : "";
      const image = absoluteUrl(event.data.image ?? event.data.coverImage, base);
      const author = firstText(event.data, ["author"]);
      if (!base) ctx.log.warn("the Public site URL setting is empty: no canonical link or og:url");

      const meta: Meta[] = [];
      if (description) meta.push({ name: "description", content: description });
      meta.push({ property: "og:type", content: "article" }, { property: "og:title", content: title });
      if (description) meta.push({ property: "og:description", content: description });
      if (url) meta.push({ property: "og:url", content: url });
      if (siteName) meta.push({ property: "og:site_name", content: siteName });
      if (image) meta.push({ property: "og:image", content: image });
      meta.push({ name: "twitter:card", content: image ? "summary_large_image" : "summary" });
      if (event.data.noindex === true) meta.push({ name: "robots", content: "noindex" });

      const article: Pilcrow.JSONObject = {
        "@context": "https://schema.org",
        "@type": "Article",
        headline: truncate(title, 110), // Google's documented headline limit
        datePublished: event.publishedAt,
      };
      if (description) article.description = description;
      if (url) {
        article.url = url;
        article.mainEntityOfPage = { "@type": "WebPage", "@id": url };
      }
      if (image) article.image = [image];
      if (author) article.author = { "@type": "Person", name: author };
      if (siteName) article.publisher = { "@type": "Organization", name: siteName };

      return {
        meta,
        link: url ? [{ rel: "canonical", href: url }] : [],
        jsonLd: [article],
      };
    },
  },
} satisfies Pilcrow.Plugin;
