"use strict";
// A realistic text-processing plugin as `pilcrow plugin build` bundles it
// (esbuild, ES2017, IIFE with globalName __pilcrow): on content:beforeSave it
// derives a slug, an excerpt, word and reading statistics, a table of
// contents, link and tag lists from a Markdown body.
var __pilcrow = (() => {
  var __defProp = Object.defineProperty;
  var __export = (target, all) => {
    for (var name in all)
      __defProp(target, name, { get: all[name], enumerable: true });
  };

  // src/plugin.ts
  var plugin_exports = {};
  __export(plugin_exports, {
    default: () => plugin_default
  });

  // src/text.ts
  const DIACRITICS = {
    "à": "a", "á": "a", "â": "a", "ä": "a", "ã": "a", "å": "a", "æ": "ae",
    "ç": "c", "è": "e", "é": "e", "ê": "e", "ë": "e", "ì": "i", "í": "i",
    "î": "i", "ï": "i", "ñ": "n", "ò": "o", "ó": "o", "ô": "o", "ö": "o",
    "õ": "o", "ø": "o", "œ": "oe", "ß": "ss", "ù": "u", "ú": "u", "û": "u",
    "ü": "u", "ý": "y", "ÿ": "y"
  };
  const STOP_WORDS = new Set(("a an and are as at be but by for from has have in is it its " +
    "of on or that the this to was were will with you your we our they their not").split(" "));

  function foldDiacritics(s) {
    return s.toLowerCase().replace(/[à-ÿœ]/g, (ch) => DIACRITICS[ch] !== undefined ? DIACRITICS[ch] : ch);
  }

  function slugify(title, maxLength = 80) {
    const folded = foldDiacritics(String(title || "")).trim();
    let slug = folded
      .replace(/&/g, " and ")
      .replace(/['’]/g, "")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "");
    if (slug.length > maxLength) {
      slug = slug.slice(0, maxLength);
      const cut = slug.lastIndexOf("-");
      if (cut > maxLength / 2) slug = slug.slice(0, cut);
    }
    return slug || "untitled";
  }

  function stripMarkdown(md) {
    return md
      .replace(/```[\s\S]*?```/g, " ")
      .replace(/`([^`]+)`/g, "$1")
      .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
      .replace(/^#{1,6}\s+/gm, "")
      .replace(/^>\s?/gm, "")
      .replace(/^\s*[-*+]\s+/gm, "")
      .replace(/^\s*\d+\.\s+/gm, "")
      .replace(/(\*\*|__)(.*?)\1/g, "$2")
      .replace(/(\*|_)(.*?)\1/g, "$2")
      .replace(/~~(.*?)~~/g, "$1")
      .replace(/<[^>]+>/g, " ")
      .replace(/[ \t]+/g, " ")
      .replace(/\n{2,}/g, "\n\n")
      .trim();
  }

  function excerpt(text, maxChars = 200) {
    const paragraphs = text.split(/\n\n+/).map((p) => p.replace(/\s+/g, " ").trim()).filter(Boolean);
    const first = paragraphs.length ? paragraphs[0] : "";
    if (first.length <= maxChars) return first;
    const sentences = first.match(/[^.!?]+[.!?]+(\s|$)/g) || [];
    let out = "";
    for (const s of sentences) {
      if ((out + s).length > maxChars) break;
      out += s;
    }
    if (out.trim().length > maxChars / 3) return out.trim();
    const cut = first.slice(0, maxChars);
    return cut.slice(0, Math.max(cut.lastIndexOf(" "), maxChars / 2)).replace(/[,;:\s]+$/, "") + "…";
  }

  function words(text) {
    return text.toLowerCase().match(/[a-z0-9à-ÿ]+(?:['’-][a-z0-9à-ÿ]+)*/g) || [];
  }

  function wordStats(text) {
    const list = words(text);
    const counts = new Map();
    let letters = 0;
    for (const w of list) {
      letters += w.length;
      if (STOP_WORDS.has(w) || w.length < 3) continue;
      counts.set(w, (counts.get(w) || 0) + 1);
    }
    const top = Array.from(counts.entries())
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 10)
      .map(([word, count]) => ({ word, count }));
    const sentences = (text.match(/[.!?]+(\s|$)/g) || []).length || 1;
    return {
      words: list.length,
      unique: counts.size,
      averageWordLength: list.length ? Math.round((letters / list.length) * 100) / 100 : 0,
      wordsPerSentence: Math.round((list.length / sentences) * 10) / 10,
      readingMinutes: Math.max(1, Math.round(list.length / 220)),
      top
    };
  }

  function headings(md) {
    const toc = [];
    const seen = new Map();
    const re = /^(#{1,6})\s+(.+?)\s*#*\s*$/gm;
    let m;
    while ((m = re.exec(md)) !== null) {
      const text = m[2].replace(/[*_`~]/g, "");
      let id = slugify(text, 60);
      const n = seen.get(id) || 0;
      seen.set(id, n + 1);
      if (n > 0) id += "-" + n;
      toc.push({ level: m[1].length, text, id });
    }
    return toc;
  }

  function links(md) {
    const out = [];
    const re = /\[([^\]]+)\]\((\S+?)(?:\s+"([^"]*)")?\)/g;
    let m;
    while ((m = re.exec(md)) !== null) {
      const url = m[2];
      const external = /^https?:\/\//i.test(url);
      const host = external ? url.replace(/^https?:\/\//i, "").split(/[/?#]/)[0].toLowerCase() : null;
      out.push({ text: m[1], url, title: m[3] || null, external, host });
    }
    return out;
  }

  function normalizeTags(tags) {
    const list = Array.isArray(tags) ? tags : String(tags || "").split(",");
    const out = [];
    for (const t of list) {
      const tag = slugify(String(t), 32);
      if (tag !== "untitled" && out.indexOf(tag) < 0) out.push(tag);
    }
    return out.sort();
  }

  function checksum(s) {
    let h = 7;
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
    return h.toString(16);
  }

  function titleCase(s) {
    const small = new Set(["a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to"]);
    return s.split(/\s+/).map((w, i) => {
      const lw = w.toLowerCase();
      if (i > 0 && small.has(lw)) return lw;
      return lw.charAt(0).toUpperCase() + lw.slice(1);
    }).join(" ");
  }

  // src/plugin.ts
  var plugin_default = {
    hooks: {
      "content:beforeSave": async (event, ctx) => {
        const data = Object.assign({}, event.data);
        const body = String(data.body || "");
        const plain = stripMarkdown(body);
        data.title = titleCase(String(data.title || "").trim());
        if (!data.slug) data.slug = slugify(data.title);
        data.excerpt = excerpt(plain, 200);
        data.stats = wordStats(plain);
        data.toc = headings(body);
        data.links = links(body);
        data.externalHosts = Array.from(new Set(data.links.filter((l) => l.external).map((l) => l.host))).sort();
        data.tags = normalizeTags(data.tags);
        data.checksum = checksum(data.title + "\n" + data.excerpt);
        if (data.stats.words < 3) throw new Error("body is too short");
        return data;
      },
      "content:afterSave": async (event, ctx) => {
        ctx.log.info("saved", event.id);
      }
    },
    routes: {
      "slug": (req) => ({ slug: slugify(req.query && req.query.title) })
    }
  };
  return plugin_exports;
})();
