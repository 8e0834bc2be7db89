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
//
// Every delivery is recorded in the storage collection "deliveries" (one
// document per publication, updated by each attempt), and the admin page
// "Deliveries" lists them with a Redeliver button that sends the recorded
// payload again, to the receiver URL as it is saved now.

interface Delivery extends Pilcrow.JSONObject {
  /** When the entry was published (or the first attempt, when unknown): ISO 8601, UTC. */
  at: string;
  entryId: string;
  collection: string;
  slug: string | null;
  /** The exact body that was POSTed. */
  payload: string;
  status: "delivered" | "failed";
  /** The receiver's HTTP status, null when it could not be reached. */
  httpStatus: number | null;
  error: string | null;
  attempts: number;
  lastAttemptAt: string;
}

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

/** The receiver URL setting, checked. */
function receiverURL(ctx: Pilcrow.Context): string {
  // An API whose capability is withheld is absent (`plugin run --deny`).
  if (typeof ctx.http === "undefined") {
    throw new Error("the network:request capability is not granted, so nothing can be sent");
  }
  const url = String(ctx.settings.url ?? "").trim();
  if (!URL.canParse(url) || new URL(url).protocol !== "https:") {
    throw new Error("the Receiver URL setting is empty or not an https:// URL");
  }
  return url;
}

/**
 * POSTs the delivery's payload and records the attempt. Returns the updated
 * record; a failure is recorded before it is thrown, so the log shows it.
 */
async function send(ctx: Pilcrow.Context, id: string, d: Delivery, url: string): Promise<Delivery> {
  const now = new Date().toISOString();
  let next: Delivery;
  try {
    const res = await ctx.http.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-pilcrow-event": "content:afterPublish", "x-pilcrow-delivery": id },
      body: d.payload,
    });
    next = {
      ...d,
      status: res.ok ? "delivered" : "failed",
      httpStatus: res.status,
      error: res.ok ? null : `the receiver answered HTTP ${res.status}`,
      attempts: d.attempts + 1,
      lastAttemptAt: now,
    };
  } catch (err) {
    next = { ...d, status: "failed", httpStatus: null, error: String((err as Error)?.message ?? err), attempts: d.attempts + 1, lastAttemptAt: now };
  }
  await ctx.storage.deliveries.put(id, next);
  return next;
}

// ---- The admin page ---------------------------------------------------------

const DELIVERIES_PAGE = 10;

async function deliveriesPage(ctx: Pilcrow.Context, cursor: string | undefined): Promise<Pilcrow.AdminAnswer> {
  const url = String(ctx.settings.url ?? "");
  const blocks: Pilcrow.Block[] = [
    {
      type: "text",
      text: url
        ? `Deliveries to \`${url}\`, newest first. **Redeliver** sends the recorded payload again to the Receiver URL as it is saved now.`
        : "No Receiver URL is saved yet: set one in the plugin's [settings](/admin/plugins/webhook/settings).",
    },
  ];
  let page: Pilcrow.StoragePage<Delivery>;
  try {
    page = await ctx.storage.deliveries.query<Delivery>({ orderBy: "-at", limit: DELIVERIES_PAGE, cursor });
  } catch (err) {
    if (!cursor) throw err;
    blocks.push({ type: "text", text: "That page of deliveries is gone; showing the newest." });
    page = await ctx.storage.deliveries.query<Delivery>({ orderBy: "-at", limit: DELIVERIES_PAGE });
  }
  const when = (iso: string) => iso.slice(0, 19).replace("T", " ");
  blocks.push({
    type: "table",
    columns: [
      { key: "at", label: "Published (UTC)" },
      { key: "entry", label: "Entry" },
      { key: "status", label: "Status" },
      { key: "httpStatus", label: "HTTP" },
      { key: "attempts", label: "Attempts" },
      { key: "last", label: "Last attempt (UTC)" },
      { key: "error", label: "Error" },
    ],
    rows: page.items.map(({ data }) => ({
      at: when(data.at),
      entry: `${data.collection}/${data.slug ?? data.entryId}`,
      status: data.status,
      httpStatus: data.httpStatus,
      attempts: data.attempts,
      last: when(data.lastAttemptAt),
      error: data.error,
    })),
    nextCursor: page.cursor,
  });
  // One button per delivery on the page; its value names the delivery.
  for (const { id, data } of page.items) {
    blocks.push({
      type: "button",
      label: `Redeliver ${data.collection}/${data.slug ?? data.entryId}`,
      actionId: "redeliver",
      value: id,
      style: data.status === "failed" ? "primary" : undefined,
    });
  }
  return { blocks };
}

async function redeliver(ctx: Pilcrow.Context, id: string): Promise<Pilcrow.AdminAnswer> {
  const d = id ? await ctx.storage.deliveries.get<Delivery>(id) : null;
  if (!d) return { toast: "That delivery is no longer recorded.", blocks: [] };
  let url: string;
  try {
    url = receiverURL(ctx);
  } catch (err) {
    return { toast: `Not sent: ${(err as Error).message}.`, blocks: [] };
  }
  const next = await send(ctx, id, d, url);
  ctx.log.info("redelivered", { id, status: next.status, httpStatus: next.httpStatus });
  const what = `${d.collection}/${d.slug ?? d.entryId}`;
  // Only a toast: Pilcrow shows the page again, freshly asked for.
  return {
    toast: next.status === "delivered" ? `Redelivered ${what}: the receiver answered HTTP ${next.httpStatus}.` : `Redelivery of ${what} failed: ${next.error}.`,
    blocks: [],
  };
}

export default {
  hooks: {
    "content:afterPublish": async (event, ctx) => {
      const url = receiverURL(ctx);
      const { slug, publishedAt } = await publication(event, ctx);
      const payload = {
        event: "content:afterPublish",
        collection: event.collection,
        id: event.id,
        slug,
        publishedAt,
      };
      // One record per publication: a retry of this hook updates it.
      const at = publishedAt ?? new Date().toISOString();
      const id = `${at}-${event.id}`;
      const prev = await ctx.storage.deliveries.get<Delivery>(id);
      const d: Delivery = prev ?? {
        at,
        entryId: event.id,
        collection: event.collection,
        slug,
        payload: JSON.stringify(payload),
        status: "failed",
        httpStatus: null,
        error: null,
        attempts: 0,
        lastAttemptAt: at,
      };
      const next = await send(ctx, id, d, url);
      if (next.status !== "delivered") {
        throw new Error(next.error ?? "the delivery failed");
      }
      ctx.log.info("delivered", { id: event.id, status: next.httpStatus });
    },
  },

  routes: {
    admin: async (request, ctx) => {
      const req = request.body;
      // Pilcrow's admin sends an AdminRequest; anyone else calling
      // /api/p/webhook/admin directly may send anything.
      if (typeof req !== "object" || req === null || !("type" in req)) {
        return { status: 400, body: { error: "this route answers Pilcrow's admin pages" } };
      }
      if (req.type === "action" && req.actionId === "redeliver") {
        return redeliver(ctx, String(req.values.value ?? ""));
      }
      if (req.type === "page") {
        return deliveriesPage(ctx, req.query.cursor || undefined);
      }
      return { toast: "This plugin has no such admin view.", blocks: [] };
    },
  },
} satisfies Pilcrow.Plugin;
