// Webhook: when an entry is published, POSTs a small JSON payload to the
// receiver URL from the settings:
//
//   {"event": "content:afterPublish", "collection": "posts", "id": "…",
//    "slug": "hello-world", "publishedAt": "2026-03-14T09:30:00Z"}
//
// The receiver is whatever https address the admin saves in the "url"
// setting: manifest.json lists it in network.allowedHostsFromSettings, so its
// host (and only it) becomes reachable once saved, with every egress rule
// still applied (no private or loopback addresses, redirects re-checked).
//
// Authentication is the "token" secret setting, bound in manifest.json to
// that same host: Pilcrow's egress client adds "Authorization: Bearer
// <token>" to HTTPS requests to it only. This code never sees the token, so
// it cannot leak it, and it is never sent over plain HTTP or to another host.
//
// A failed delivery throws: Pilcrow logs the failure and retries the after
// hook with backoff, so a receiver that is briefly down still gets the event.

/** The entry's slug and publication time, looked up because the event carries only field values. */
async function publication(event: Pilcrow.ContentEvent, ctx: Pilcrow.Context) {
  try {
    const entry = await ctx.content.get(event.collection, event.id);
    if (entry) return { slug: entry.slug, publishedAt: entry.publishedAt ?? null };
  } catch (err) {
    // Deliver without them rather than not at all; the receiver has the id.
    ctx.log.warn("could not read the entry", { error: String(err) });
  }
  const slug = event.data.slug;
  return { slug: typeof slug === "string" ? slug : null, publishedAt: null };
}

export default {
  hooks: {
    "content:afterPublish": async (event, ctx) => {
      // An API whose capability is withheld is absent (`plugin run --deny`).
      if (typeof ctx.http === "undefined") {
        throw new Error("the network:request capability is not granted, so nothing can be sent");
      }
      const url = String(ctx.settings.url ?? "").trim();
      if (!URL.canParse(url) || new URL(url).protocol !== "https:") {
        throw new Error("the Receiver URL setting is empty or not an https:// URL");
      }
      const { slug, publishedAt } = await publication(event, ctx);
      const payload = {
        event: "content:afterPublish",
        collection: event.collection,
        id: event.id,
        slug,
        publishedAt,
      };
      const res = await ctx.http.fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-pilcrow-event": "content:afterPublish" },
        body: JSON.stringify(payload),
      });
      if (!res.ok) {
        throw new Error(`the receiver answered HTTP ${res.status}`);
      }
      ctx.log.info("delivered", { id: event.id, status: res.status });
    },
  },
} satisfies Pilcrow.Plugin;
