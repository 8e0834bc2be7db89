// Audit log: records what happened to every entry — created, updated,
// deleted, published, unpublished — in the plugin's own storage collection
// "events", and serves the history to editors:
//
//   GET /api/p/audit-log/events                    latest events, newest first
//   GET /api/p/audit-log/events?entryId=…          one entry's history
//   GET /api/p/audit-log/events?kind=deleted       one kind of event
//   … &limit=20&cursor=<nextCursor>                paging
//
// Each event stores the entry's title as it was, so the log stays readable
// after the entry is deleted. The hooks are "after" hooks: they run once the
// editor has their response, from Pilcrow's durable queue, and a failure is
// retried, so recording never slows down or breaks editing.
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

async function record(kind: Kind, event: Pilcrow.ContentEvent, ctx: Pilcrow.Context): Promise<void> {
  const at = new Date().toISOString();
  const title = typeof event.data?.title === "string" ? event.data.title : null;
  const doc: AuditEvent = { kind, entryId: event.id, collection: event.collection, title, at };
  // The time first so ids sort like events; the random suffix keeps two
  // events of the same entry within one millisecond apart.
  const id = `${at}-${event.id}-${kind}-${Math.random().toString(36).slice(2, 8)}`;
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

export default {
  hooks: {
    "content:afterSave": (event, ctx) => record(event.isNew ? "created" : "updated", event, ctx),
    "content:afterDelete": (event, ctx) => record("deleted", event, ctx),
    "content:afterPublish": (event, ctx) => record("published", event, ctx),
    "content:afterUnpublish": (event, ctx) => record("unpublished", event, ctx),
  },

  routes: {
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
