// A plugin in EmDash's sandboxed format, written for Pilcrow's tests: an ES
// module whose default export is {hooks, routes}, handlers taking EmDash's
// event and ctx shapes. It touches every ctx method Pilcrow translates.

function keys(o) {
  return o ? Object.keys(o).sort() : null;
}

async function ctxReport(input, ctx) {
  const out = {};
  switch (input.op) {
    case "kvget":
      return { value: await ctx.kv.get(input.key) };
    case "kv": {
      await ctx.kv.set("a", { n: 1 });
      await ctx.kv.set("settings:lastSync", "never");
      out.get = await ctx.kv.get("a");
      out.missing = await ctx.kv.get("nope");
      out.greeting = await ctx.kv.get("settings:greeting");
      out.maxItems = await ctx.kv.get("settings:maxItems");
      out.apiKey = await ctx.kv.get("settings:apiKey");
      out.lastSync = await ctx.kv.get("settings:lastSync");
      out.settings = (await ctx.kv.list("settings:")).map((e) => e.key);
      out.deleted = await ctx.kv.delete("a");
      out.deletedAgain = await ctx.kv.delete("a");
      return out;
    }
    case "storage": {
      const ev = ctx.storage.events;
      await ev.put("e1", { type: "save", at: 1, key: "k1" });
      await ev.putMany([{ id: "e2", data: { type: "save", at: 2, key: "k2" } }, { id: "e3", data: { type: "view", at: 3, key: "k3" } }]);
      out.get = await ev.get("e1");
      out.exists = await ev.exists("e2");
      const many = await ev.getMany(["e1", "e3", "zz"]);
      out.many = [...many.keys()].sort();
      const page = await ev.query({ where: { type: "save" }, orderBy: { at: "desc" }, limit: 1 });
      out.query = { ids: page.items.map((i) => i.id), hasMore: page.hasMore, cursor: typeof page.cursor };
      const next = await ev.query({ where: { type: "save" }, orderBy: { at: "desc" }, limit: 1, cursor: page.cursor });
      out.next = next.items.map((i) => i.id);
      out.range = (await ev.query({ where: { at: { gte: 2 } }, orderBy: { at: "asc" } })).items.map((i) => i.id);
      out.count = await ev.count();
      out.countSave = await ev.count({ type: "save" });
      out.deleted = await ev.delete("e1");
      out.deletedMany = await ev.deleteMany(["e2", "e3", "zz"]);
      return out;
    }
    case "content": {
      const created = await ctx.content.create("posts", { title: "  From EmDash  ", body: "b" });
      out.created = { keys: keys(created), type: created.type, locale: created.locale, title: created.data.title, status: created.status };
      const got = await ctx.content.get("posts", created.id);
      out.got = got.id === created.id;
      out.missing = await ctx.content.get("posts", "no-such-id");
      const updated = await ctx.content.update("posts", created.id, { title: "Updated", body: "b2" });
      out.updated = updated.data.title;
      const list = await ctx.content.list("posts", { limit: 1 });
      out.list = { keys: keys(list), n: list.items.length, itemKeys: keys(list.items[0]) };
      const drafts = await ctx.content.list("posts", { where: { status: "draft" } });
      out.drafts = drafts.items.length;
      try {
        await ctx.content.list("posts", { orderBy: { title: "asc" } });
        out.orderBy = "accepted";
      } catch (e) {
        out.orderBy = e.message;
      }
      out.deleted = await ctx.content.delete("posts", created.id);
      out.deletedAgain = await ctx.content.delete("posts", "no-such-id");
      return out;
    }
    case "media": {
      const bin = atob(input.png);
      const png = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) png[i] = bin.charCodeAt(i);
      const up = await ctx.media.upload("dot.png", "image/png", png.buffer);
      out.upload = { keys: keys(up), same: up.mediaId === up.storageKey };
      const got = await ctx.media.get(up.mediaId);
      out.got = { keys: keys(got), filename: got.filename, mimeType: got.mimeType };
      out.images = (await ctx.media.list({ mimeType: "image/" })).items.length;
      out.texts = (await ctx.media.list({ mimeType: "text/" })).items.length;
      try {
        await ctx.media.getUploadUrl("x.png", "image/png");
      } catch (e) {
        out.getUploadUrl = e.message;
      }
      out.deleted = await ctx.media.delete(up.mediaId);
      out.deletedAgain = await ctx.media.delete(up.mediaId);
      return out;
    }
    case "users": {
      const byEmail = await ctx.users.getByEmail(input.email);
      out.byEmail = byEmail && { keys: keys(byEmail), role: byEmail.role, email: byEmail.email };
      out.get = (await ctx.users.get(byEmail.id)).id === byEmail.id;
      out.nobody = await ctx.users.getByEmail("nobody@example.com");
      const admins = await ctx.users.list({ role: 50 });
      out.admins = admins.items.map((u) => u.email);
      out.all = (await ctx.users.list({})).items.length;
      return out;
    }
    case "http": {
      const res = await ctx.http.fetch(input.url + "/hello", { headers: { "x-from": "emdash" } });
      out.status = res.status;
      out.json = await res.json();
      try {
        await ctx.http.fetch("https://elsewhere.example/");
        out.elsewhere = "reached";
      } catch (e) {
        out.elsewhere = "refused";
      }
      return out;
    }
    case "email": {
      out.sent = await ctx.email.send({ to: input.to, subject: "From EmDash", text: "Hi" });
      return out;
    }
    case "cron": {
      await ctx.cron.schedule("digest", { schedule: "@daily", data: { list: "all" } });
      out.listed = (await ctx.cron.list()).filter((t) => t.name === "digest").map((t) => ({ name: t.name, schedule: t.schedule, next: typeof t.nextRunAt, last: t.lastRunAt }));
      out.cancelled = await ctx.cron.cancel("digest");
      out.after = (await ctx.cron.list()).filter((t) => t.name === "digest").length;
      return out;
    }
    case "site": {
      out.site = { name: ctx.site.name, url: ctx.site.url, locale: typeof ctx.site.locale };
      out.url = ctx.url("/posts/x");
      out.plugin = ctx.plugin;
      ctx.log.info("site looked at", { by: "emdash" });
      out.absent = { taxonomies: typeof ctx.taxonomies, db: "db" in ctx, env: "env" in ctx };
      return out;
    }
  }
  throw new Error("unknown op " + input.op);
}

async function admin(interaction, ctx) {
  if (interaction.type === "page_load" && interaction.page === "widget:note-count") {
    return { blocks: [{ type: "stats", items: [{ label: "Notes", value: await ctx.storage.events.count(), trend: "up" }] }] };
  }
  if (interaction.type === "page_load" && interaction.page === "widget:untitled") {
    return { blocks: [{ type: "context", text: "untitled widget" }] };
  }
  if (interaction.type === "page_load" && interaction.page === "/notes") {
    return notesPage(ctx, undefined, undefined);
  }
  if (interaction.type === "block_action" && interaction.action_id === "more") {
    return notesPage(ctx, interaction.value, undefined);
  }
  if (interaction.type === "block_action" && interaction.action_id === "remove") {
    await ctx.storage.events.delete(interaction.value.id);
    return notesPage(ctx, undefined, { message: "Removed " + interaction.value.id, type: "success" });
  }
  if (interaction.type === "form_submit" && interaction.action_id === "add_note") {
    const v = interaction.values;
    await ctx.storage.events.put("n-" + v.key, { type: "note", at: Number(v.at) || 0, key: v.key, text: v.text, urgent: v.urgent === true });
    return notesPage(ctx, undefined, { message: "Added " + v.key, type: "success" });
  }
  return { blocks: [{ type: "banner", title: "Unknown", description: JSON.stringify(interaction) }] };
}

async function notesPage(ctx, cursor, toast) {
  const q = { where: { type: "note" }, orderBy: { at: "asc" }, limit: 2 };
  if (cursor) q.cursor = cursor;
  const page = await ctx.storage.events.query(q);
  const res = {
    blocks: [
      { type: "header", text: "EmDash notes" },
      { type: "section", text: "Notes kept by an EmDash plugin.", accessory: { type: "button", action_id: "noop", label: "Noop" } },
      { type: "fields", fields: [{ label: "Greeting", value: String(await ctx.kv.get("settings:greeting")) }] },
      {
        type: "table",
        columns: [{ key: "key", label: "Key" }, { key: "text", label: "Text", format: "text" }],
        rows: page.items.map((i) => ({ key: i.data.key, text: i.data.text })),
        next_cursor: page.cursor,
        page_action_id: "more",
        empty_text: "No notes yet",
      },
      { type: "actions", elements: page.items.map((i) => ({ type: "button", action_id: "remove", label: "Remove " + i.data.key, style: "danger", value: { id: i.id } })) },
      {
        type: "form",
        block_id: "add",
        fields: [
          { type: "text_input", action_id: "key", label: "Key" },
          { type: "text_input", action_id: "text", label: "Text", multiline: true },
          { type: "number_input", action_id: "at", label: "Order", initial_value: 1 },
          { type: "toggle", action_id: "urgent", label: "Urgent" },
          { type: "select", action_id: "color", label: "Color", options: [{ label: "Red", value: "red" }] },
          { type: "secret_input", action_id: "pin", label: "PIN" },
        ],
        submit: { label: "Add note", action_id: "add_note" },
      },
      { type: "meter", label: "Quota", value: 3, max: 10 },
      { type: "chart", config: { chart_type: "custom", options: {} } },
      { type: "divider" },
    ],
  };
  if (toast) res.toast = toast;
  return res;
}

export default {
  hooks: {
    "plugin:install": async (_event, ctx) => {
      await ctx.kv.set("installedBy", "emdash-notes");
    },
    "content:beforeSave": {
      priority: 5,
      timeout: 2000,
      handler: async (event, ctx) => {
        if (event.collection !== "posts") return;
        const c = event.content;
        if (typeof c.title === "string" && c.title.includes("forbidden")) {
          throw new Error("EmDash notes refuses forbidden titles");
        }
        if (typeof c.title === "string") return { ...c, title: c.title.trim() + (event.isNew ? " (new)" : "") };
      },
    },
    "content:afterSave": async (event, ctx) => {
      await ctx.kv.set("lastSaved", { id: event.content.id, collection: event.collection, isNew: event.isNew, title: event.content.title });
    },
    "content:beforeDelete": async (event, ctx) => {
      const entry = await ctx.content.get(event.collection, event.id);
      if (entry && entry.data.title && entry.data.title.startsWith("Keep")) return false;
    },
    "media:afterUpload": async (event, ctx) => {
      await ctx.kv.set("lastMedia", { id: event.media.id, filename: event.media.filename, keys: keys(event.media) });
    },
    "page:metadata": async (event, ctx) => [
      { kind: "meta", name: "emdash-slug", content: String(event.page.content.slug) },
      { kind: "property", property: "og:site_name", content: String(event.page.siteName) },
      { kind: "jsonld", graph: { "@context": "https://schema.org", "@type": "Article", headline: event.page.title } },
    ],
    cron: async (event, ctx) => {
      await ctx.kv.set("cron:" + event.name, event.scheduledAt);
    },
  },
  routes: {
    ping: {
      public: true,
      handler: async (rc, ctx) => ({
        pong: await ctx.kv.get("settings:greeting"),
        input: rc.input,
        method: rc.request.method,
        userAgent: rc.requestMeta.userAgent,
        ip: typeof rc.requestMeta.ip,
        user: rc.user === undefined ? "none" : "some",
        // Looks like a Pilcrow full response; must still come back as JSON.
        status: "fine",
      }),
    },
    whoami: async (rc) => ({ user: rc.user, input: rc.input }),
    ctx: async (rc, ctx) => ctxReport(rc.input, ctx),
    admin: async (rc, ctx) => admin(rc.input, ctx),
  },
};
