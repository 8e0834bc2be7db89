// Audit log: records what happened to every entry — created, updated,
// deleted, published, unpublished — in the plugin's own storage collection
// "events", and serves the history to editors:
//
//   GET /api/p/audit-log/events                    latest events, newest first
//   GET /api/p/audit-log/events?entryId=…          one entry's history
//   GET /api/p/audit-log/events?kind=deleted       one kind of event
//   … &limit=20&cursor=<nextCursor>                paging
//
// and in the admin: a History page (a filterable, paged table) and a "Recent
// changes" widget on the dashboard, both drawn by Pilcrow from the blocks the
// private "admin" route answers (see the admin section below).
//
// Each event stores the entry's title as it was, so the log stays readable
// after the entry is deleted. The hooks are "after" hooks: they run once the
// editor has their response, from Pilcrow's durable queue, and a failure is
// retried, so recording never slows down or breaks editing; a retried or
// redelivered event is recorded once (by its deliveryId).
//
// Storage is bounded: past the "Events to keep" setting, each new event
// removes a few of the oldest ones.

type Kind = "created" | "updated" | "deleted" | "published" | "unpublished";
const kinds: Kind[] = ["created", "updated", "deleted", "published", "unpublished"];

interface AuditEvent extends Pilcrow.JSONObject {
  kind: Kind;
  entryId: string;
  collection: string;
  title: string | null;
  at: string; // ISO 8601, UTC: sorts in time order as a string
}

/** At most this many old events are removed per new event, keeping each hook call cheap. */
const PRUNE_BATCH = 20;

async function record(kind: Kind, event: Pilcrow.ContentAfterEvent, ctx: Pilcrow.Context): Promise<void> {
  const at = new Date().toISOString();
  const title = typeof event.data?.title === "string" ? event.data.title : null;
  const doc: AuditEvent = { kind, entryId: event.id, collection: event.collection, title, at };
  // After hooks are delivered at least once: keyed by the delivery's id, a
  // redelivery of the same event overwrites its record instead of adding a
  // second one.
  const id = `delivery-${event.deliveryId}`;
  await ctx.storage.events.put(id, doc);
  ctx.log.info(`recorded ${kind}`, { entryId: event.id, id });
  await prune(ctx);
}

/** Removes the oldest events beyond the keepEvents setting. */
async function prune(ctx: Pilcrow.Context): Promise<void> {
  const keep = Number(ctx.settings.keepEvents ?? 10000);
  if (!(keep > 0)) return;
  const excess = (await ctx.storage.events.count()) - keep;
  if (excess <= 0) return;
  const oldest = await ctx.storage.events.query({ orderBy: "at", limit: Math.min(excess, PRUNE_BATCH) });
  for (const item of oldest.items) await ctx.storage.events.delete(item.id);
}

/** The limit query parameter as a page size between 1 and 100 (default 50). */
function pageSize(raw: string | undefined): number {
  const n = Math.floor(Number(raw ?? 50));
  return Number.isFinite(n) ? Math.min(100, Math.max(1, n)) : 50;
}

// ---- The admin pages ------------------------------------------------------
//
// Pilcrow calls the "admin" route with {type: "page", path, query} for the
// History page, {type: "widget", id} for the dashboard widget and
// {type: "action", actionId, values} when the filter form is submitted, and
// renders the blocks it answers itself: the plugin sends data, never markup.

const HISTORY_PAGE = 20;

/** The filter of the History page, from its query or the submitted form. */
interface Filter {
  kind: Kind | "";
  entryId: string;
}

function filterFrom(values: { readonly [name: string]: string | number | boolean | null | undefined }): Filter {
  const kind = String(values.kind ?? "");
  return {
    kind: kinds.includes(kind as Kind) ? (kind as Kind) : "",
    entryId: String(values.entryId ?? "").trim(),
  };
}

async function historyPage(ctx: Pilcrow.Context, filter: Filter, cursor: string | undefined): Promise<Pilcrow.AdminAnswer> {
  const where: Pilcrow.Where = {};
  if (filter.kind) where.kind = filter.kind;
  if (filter.entryId) where.entryId = filter.entryId;
  const blocks: Pilcrow.Block[] = [
    {
      type: "text",
      text: "Every change to an entry, **newest first**. Editors can read the same history from `GET /api/p/audit-log/events`.",
    },
    {
      type: "form",
      id: "filter",
      inputs: [
        {
          type: "select",
          name: "kind",
          label: "Kind",
          value: filter.kind,
          options: [{ label: "Any kind", value: "" }, ...kinds.map((k) => ({ label: k, value: k }))],
        },
        { type: "text", name: "entryId", label: "Entry id", value: filter.entryId },
      ],
      submit: { label: "Filter", actionId: "filter" },
    },
  ];
  let page: Pilcrow.StoragePage<AuditEvent>;
  try {
    page = await ctx.storage.events.query<AuditEvent>({ where, orderBy: "-at", limit: HISTORY_PAGE, cursor });
  } catch (err) {
    if (!cursor) throw err;
    // A page link from before the events it pointed at were pruned.
    blocks.push({ type: "text", text: "That page of the history is gone; showing the newest events." });
    page = await ctx.storage.events.query<AuditEvent>({ where, orderBy: "-at", limit: HISTORY_PAGE });
  }
  blocks.push({
    type: "table",
    columns: [
      { key: "at", label: "When (UTC)" },
      { key: "kind", label: "What" },
      { key: "title", label: "Entry" },
      { key: "collection", label: "Collection" },
      { key: "entryId", label: "Entry id" },
    ],
    rows: page.items.map(({ data }) => ({
      at: data.at.slice(0, 19).replace("T", " "),
      kind: data.kind,
      title: data.title ?? "(untitled)",
      collection: data.collection,
      entryId: data.entryId,
    })),
    nextCursor: page.cursor,
  });
  return { blocks };
}

/** The dashboard widget: what changed in the last 24 hours. */
async function recentWidget(ctx: Pilcrow.Context): Promise<Pilcrow.AdminAnswer> {
  const since = new Date(Date.now() - 24 * 60 * 60 * 1000).toISOString();
  const at = { gte: since };
  const [all, published, deleted] = await Promise.all([
    ctx.storage.events.count({ at }),
    ctx.storage.events.count({ kind: "published", at }),
    ctx.storage.events.count({ kind: "deleted", at }),
  ]);
  return {
    blocks: [
      {
        type: "stats",
        items: [
          { label: "Changes (24 h)", value: all },
          { label: "Published", value: published },
          { label: "Deleted", value: deleted },
        ],
      },
      { type: "link", label: "Full history", href: "/admin/plugins/audit-log/history" },
    ],
  };
}

const admin: Pilcrow.AdminRouteHandler = async (request, ctx) => {
  const req = request.body;
  // Pilcrow's admin sends an AdminRequest; anyone else calling
  // /api/p/audit-log/admin directly may send anything.
  if (typeof req !== "object" || req === null || !("type" in req)) {
    return { status: 400, body: { error: "this route answers Pilcrow's admin pages" } };
  }
  switch (req.type) {
    case "widget":
      return recentWidget(ctx);
    case "action":
      if (req.actionId !== "filter") return { toast: `unknown action ${req.actionId}`, blocks: [] };
      return historyPage(ctx, filterFrom(req.values), undefined);
    case "page":
      return historyPage(ctx, filterFrom(req.query), req.query.cursor || undefined);
  }
};

export default {
  hooks: {
    "content:afterSave": (event, ctx) => record(event.isNew ? "created" : "updated", event, ctx),
    "content:afterDelete": (event, ctx) => record("deleted", event, ctx),
    "content:afterPublish": (event, ctx) => record("published", event, ctx),
    "content:afterUnpublish": (event, ctx) => record("unpublished", event, ctx),
  },

  routes: {
    admin,
    events: async (request, ctx) => {
      if (request.method !== "GET") {
        return { status: 405, headers: { allow: "GET" }, body: { error: "use GET" } };
      }
      const { entryId, kind, cursor } = request.query;
      if (kind && !kinds.includes(kind as Kind)) {
        return { status: 400, body: { error: `kind must be one of ${kinds.join(", ")}` } };
      }
      const where: Record<string, string> = {};
      if (entryId) where.entryId = entryId;
      if (kind) where.kind = kind;
      let page;
      try {
        page = await ctx.storage.events.query<AuditEvent>({
          where,
          orderBy: "-at",
          limit: pageSize(request.query.limit),
          cursor: cursor || undefined,
        });
      } catch (err) {
        // A cursor that did not come from a previous page is the caller's
        // mistake, not a failure of the plugin.
        if (cursor && /cursor/i.test(String((err as Error)?.message ?? err))) {
          return { status: 400, body: { error: "cursor is not valid: pass the nextCursor of a previous page" } };
        }
        throw err;
      }
      return { items: page.items.map((item) => item.data), nextCursor: page.cursor ?? null };
    },
  },
} satisfies Pilcrow.Plugin;
