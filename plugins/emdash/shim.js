// Pilcrow's adapter for EmDash sandboxed plugins (SPEC §11 "EmDash plugins").
//
// This is the host's own code, bundled in front of the plugin's backend.js.
// It turns the plugin's EmDash-shaped default export ({hooks, routes}) into a
// Pilcrow plugin object, and on every call gives the EmDash handler the
// EmDash shapes: its ctx (built on Pilcrow's ctx, so every call is still a
// gated Pilcrow host call), its events, its route context and its Block Kit.
// Nothing here widens a grant: an API Pilcrow did not grant is absent here
// too.

const ROLE_LEVELS = { admin: 50, editor: 40, author: 30 };
const SETTINGS = "settings:";

export function adapt(mod, m) {
  const meta = { hooks: m.hooks || [], routes: m.routes || [], settings: m.settings || [], admin: !!m.admin };
  const def = mod && typeof mod === "object" ? mod : null;
  if (!def) {
    throw new TypeError("EmDash backend.js must export default { hooks, routes }");
  }
  const hooks = {};
  const routes = {};
  for (const h of meta.hooks) {
    const entry = def.hooks ? def.hooks[h.name] : undefined;
    const fn = typeof entry === "function" ? entry : entry && entry.handler;
    if (typeof fn !== "function") {
      throw new TypeError(`manifest.json declares the hook ${h.name}, but backend.js exports no handler for it`);
    }
    const policy = typeof entry === "object" ? entry.errorPolicy : undefined;
    hooks[h.name] = hookAdapter(h.name, fn, policy, meta);
  }
  for (const r of meta.routes) {
    const entry = def.routes ? def.routes[r.name] : undefined;
    const fn = typeof entry === "function" ? entry : entry && entry.handler;
    if (typeof fn !== "function") {
      throw new TypeError(`manifest.json declares the route ${r.name}, but backend.js exports no handler for it`);
    }
    const input = typeof entry === "object" ? entry.input : undefined;
    routes[r.name] = r.name === "admin" && meta.admin
      ? adminAdapter(fn, meta)
      : routeAdapter(r, fn, input, meta);
  }
  return { hooks, routes };
}

// ── ctx ─────────────────────────────────────────────────────────────────────

export function emdashCtx(ctx, meta) {
  const c = {
    plugin: ctx.plugin,
    storage: storageAdapter(ctx.storage),
    kv: kvAdapter(ctx, meta),
    log: ctx.log,
    site: ctx.site,
    url: ctx.url,
  };
  if (ctx.content) c.content = contentAdapter(ctx.content);
  if (ctx.media) c.media = mediaAdapter(ctx.media);
  if (ctx.users) c.users = usersAdapter(ctx.users);
  if (ctx.http) c.http = { fetch: (url, init) => ctx.http.fetch(url, init) };
  if (ctx.email) c.email = { send: async (message) => { await ctx.email.send(message); } };
  if (ctx.cron) c.cron = cronAdapter(ctx.cron);
  return c;
}

// storage: an undeclared collection is an error saying so (as in EmDash),
// rather than a TypeError about undefined.
const NOT_COLLECTIONS = ["then", "toJSON", "constructor", "valueOf", "toString"];
function storageAdapter(storage) {
  if (!storage || typeof Proxy !== "function") return storage;
  return new Proxy(storage, {
    get(target, key) {
      if (typeof key === "string" && !(key in target) && !NOT_COLLECTIONS.includes(key)) {
        throw new Error(`storage collection "${key}" is not declared in the plugin's manifest`);
      }
      return target[key];
    },
  });
}

// kv: EmDash plugins read their settings as "settings:<key>". A declared
// setting reads the value the admin saved (or its default) from
// ctx.settings; a number outside the declared min/max reads as unset.
function kvAdapter(ctx, meta) {
  const declared = {};
  for (const s of meta.settings) declared[s.key] = s;
  const setting = (key) => {
    if (typeof key !== "string" || !key.startsWith(SETTINGS)) return undefined;
    const s = declared[key.slice(SETTINGS.length)];
    if (!s || !ctx.settings) return undefined;
    const v = ctx.settings[s.key];
    if (v === undefined || v === null) return undefined;
    if (s.type === "number" && ((s.min != null && v < s.min) || (s.max != null && v > s.max))) {
      ctx.log.warn(`setting ${s.key} = ${v} is outside its range; read as unset`, { min: s.min, max: s.max });
      return undefined;
    }
    return v;
  };
  return {
    async get(key) {
      const v = setting(key);
      if (v !== undefined) return v;
      return ctx.kv.get(key);
    },
    async set(key, value) {
      await ctx.kv.set(key, value);
    },
    async delete(key) {
      const had = (await ctx.kv.get(key)) !== null;
      await ctx.kv.delete(key);
      return had;
    },
    async list(prefix) {
      const p = prefix === undefined ? "" : prefix;
      const items = await ctx.kv.list(prefix);
      const out = [];
      const fromSettings = {};
      for (const s of meta.settings) {
        const key = SETTINGS + s.key;
        const v = setting(key);
        if (v !== undefined && key.startsWith(p)) fromSettings[key] = v;
      }
      for (const it of items) {
        if (!(it.key in fromSettings)) out.push(it);
      }
      for (const key of Object.keys(fromSettings)) out.push({ key, value: fromSettings[key] });
      out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return out;
    },
  };
}

export function contentItem(e) {
  if (!e) return null;
  return {
    id: e.id,
    type: e.collection,
    slug: e.slug === undefined || e.slug === "" ? null : e.slug,
    status: e.status,
    locale: null,
    data: e.data,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    publishedAt: e.publishedAt === undefined ? null : e.publishedAt,
  };
}

function unsupported(what) {
  return new TypeError(`${what} is not supported by Pilcrow (see docs/emdash.md)`);
}

function contentAdapter(content) {
  const c = {
    async get(collection, id) {
      return contentItem(await content.get(collection, id));
    },
    async list(collection, options) {
      const o = options || {};
      if (o.orderBy !== undefined) throw unsupported("ctx.content.list orderBy");
      const where = o.where || {};
      if (where.locale !== undefined) throw unsupported("ctx.content.list where.locale");
      if (where.fieldFilters !== undefined) throw unsupported("ctx.content.list where.fieldFilters");
      const q = {};
      if (o.limit !== undefined) q.limit = o.limit;
      if (o.cursor !== undefined) q.cursor = o.cursor;
      if (where.status !== undefined) q.status = where.status;
      const page = await content.list(collection, q);
      const res = { items: page.items.map(contentItem), hasMore: !!page.nextCursor };
      if (page.nextCursor) res.cursor = page.nextCursor;
      return res;
    },
  };
  if (content.create) {
    const plain = (data, what) => {
      if (data && data.seo !== undefined) throw unsupported(`${what} with seo`);
      return data;
    };
    c.create = async (collection, data, options) => {
      if (options && options.locale !== undefined) throw unsupported("ctx.content.create locale");
      return contentItem(await content.create(collection, plain(data, "ctx.content.create")));
    };
    c.update = async (collection, id, data) => contentItem(await content.update(collection, id, plain(data, "ctx.content.update")));
    c.delete = async (collection, id) => {
      if (!(await content.get(collection, id))) return false;
      await content.delete(collection, id);
      return true;
    };
  }
  return c;
}

export function mediaItem(m) {
  if (!m) return null;
  return {
    id: m.id,
    filename: m.filename,
    mimeType: m.mimeType,
    size: m.size === undefined ? null : m.size,
    url: m.url,
    createdAt: m.createdAt === undefined ? null : m.createdAt,
  };
}

export function base64(bytes) {
  let u8;
  if (bytes instanceof ArrayBuffer) u8 = new Uint8Array(bytes);
  else if (ArrayBuffer.isView(bytes)) u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  else if (typeof bytes === "string") u8 = new TextEncoder().encode(bytes);
  else throw new TypeError("ctx.media.upload: bytes must be an ArrayBuffer or a typed array");
  let s = "";
  for (let i = 0; i < u8.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function mediaAdapter(media) {
  const m = {
    async get(id) {
      return mediaItem(await media.get(id));
    },
    async list(options) {
      const o = options || {};
      const q = {};
      if (o.limit !== undefined) q.limit = o.limit;
      if (o.cursor !== undefined) q.cursor = o.cursor;
      const page = await media.list(q);
      let items = page.items.map(mediaItem);
      // The prefix filter applies to each page: a page may hold fewer items
      // than the limit while hasMore is still true.
      if (typeof o.mimeType === "string") items = items.filter((it) => it.mimeType.startsWith(o.mimeType));
      const res = { items, hasMore: !!page.nextCursor };
      if (page.nextCursor) res.cursor = page.nextCursor;
      return res;
    },
  };
  if (media.upload) {
    m.upload = async (filename, contentType, bytes) => {
      const item = await media.upload({ filename, mimeType: contentType, data: base64(bytes) });
      return { mediaId: item.id, storageKey: item.id, url: item.url };
    };
    m.getUploadUrl = async () => {
      throw unsupported("ctx.media.getUploadUrl (direct uploads to storage); use ctx.media.upload");
    };
    m.delete = async (id) => {
      if (!(await media.get(id))) return false;
      await media.delete(id);
      return true;
    };
  }
  return m;
}

export function userInfo(u) {
  if (!u) return null;
  return {
    id: u.id,
    email: u.email === undefined ? null : u.email,
    name: u.name === undefined || u.name === "" ? null : u.name,
    role: ROLE_LEVELS[u.role] || 0,
    createdAt: u.createdAt === undefined ? null : u.createdAt,
  };
}

function usersAdapter(users) {
  return {
    async get(id) {
      return userInfo(await users.get(id));
    },
    async getByEmail(email) {
      // Pilcrow has no lookup by address; walk the pages (bounded).
      const want = String(email).toLowerCase();
      let cursor;
      for (let i = 0; i < 100; i++) {
        const q = { limit: 100 };
        if (cursor) q.cursor = cursor;
        const page = await users.list(q);
        for (const u of page.items) {
          if (String(u.email).toLowerCase() === want) return userInfo(u);
        }
        if (!page.nextCursor) return null;
        cursor = page.nextCursor;
      }
      return null;
    },
    async list(options) {
      const o = options || {};
      const q = {};
      if (o.limit !== undefined) q.limit = o.limit;
      if (o.cursor !== undefined) q.cursor = o.cursor;
      const page = await users.list(q);
      let items = page.items.map(userInfo);
      if (o.role !== undefined) items = items.filter((u) => u.role === o.role);
      const res = { items };
      if (page.nextCursor) res.nextCursor = page.nextCursor;
      return res;
    },
  };
}

function cronAdapter(cron) {
  return {
    async schedule(name, opts) {
      const o = opts || {};
      if (typeof o.schedule !== "string") throw new TypeError("ctx.cron.schedule(name, {schedule, data?}): schedule must be a string");
      await cron.schedule(name, o.schedule, o.data);
    },
    async cancel(name) {
      await cron.cancel(name);
    },
    async list() {
      const list = await cron.list();
      return list.map((t) => ({ name: t.name, schedule: t.schedule, nextRunAt: t.nextRunAt, lastRunAt: t.lastRunAt === undefined ? null : t.lastRunAt }));
    },
  };
}

// ── hooks ───────────────────────────────────────────────────────────────────

// content: EmDash hands hooks the entry's fields with its id.
function contentOf(ev) {
  return Object.assign({}, ev.data, { id: ev.id });
}

// fieldsOf strips what contentOf added from what a beforeSave returns.
function fieldsOf(content, ev) {
  const out = Object.assign({}, content);
  if (!(ev.data && "id" in ev.data)) delete out.id;
  return out;
}

function pageOf(ev, ctx) {
  const title = ev.data && typeof ev.data.title === "string" ? ev.data.title : null;
  const description = ev.data && typeof ev.data.description === "string" ? ev.data.description : null;
  return {
    page: {
      url: null,
      path: null,
      locale: ctx.site ? ctx.site.locale : null,
      kind: "content",
      pageType: "article",
      title,
      description,
      canonical: null,
      image: null,
      content: { collection: ev.collection, id: ev.id, slug: ev.slug || null },
      articleMeta: { publishedTime: ev.publishedAt || null },
      siteName: ctx.site ? ctx.site.name : undefined,
      siteUrl: ctx.site ? ctx.site.url : undefined,
      data: ev.data,
    },
  };
}

// metadataOf turns EmDash's contributions into Pilcrow's {meta, link, jsonLd}.
export function metadataOf(result) {
  if (result === undefined || result === null) return undefined;
  const list = Array.isArray(result) ? result : [result];
  const out = { meta: [], link: [], jsonLd: [] };
  for (const c of list) {
    if (!c || typeof c !== "object") continue;
    switch (c.kind) {
      case "meta":
        out.meta.push({ name: c.name, content: c.content });
        break;
      case "property":
        out.meta.push({ property: c.property, content: c.content });
        break;
      case "link": {
        const l = { rel: c.rel, href: c.href };
        if (c.hreflang) l.hreflang = c.hreflang;
        out.link.push(l);
        break;
      }
      case "jsonld":
        if (Array.isArray(c.graph)) out.jsonLd.push(...c.graph);
        else if (c.graph) out.jsonLd.push(c.graph);
        break;
      default:
        throw new TypeError(`page:metadata: unknown contribution kind ${JSON.stringify(c.kind)}`);
    }
  }
  for (const k of Object.keys(out)) if (out[k].length === 0) delete out[k];
  return out;
}

function hookAdapter(name, fn, policy, meta) {
  const call = async (event, ctx) => {
    const c = emdashCtx(ctx, meta);
    switch (name) {
      case "content:beforeSave": {
        const r = await fn({ content: contentOf(event), collection: event.collection, isNew: event.isNew }, c);
        return r && typeof r === "object" ? fieldsOf(r, event) : undefined;
      }
      case "content:afterSave":
        await fn({ content: contentOf(event), collection: event.collection, isNew: event.isNew }, c);
        return undefined;
      case "content:beforeDelete": {
        const r = await fn({ id: event.id, collection: event.collection, permanent: false }, c);
        return r === false ? false : undefined;
      }
      case "content:afterDelete":
        await fn({ id: event.id, collection: event.collection, permanent: false }, c);
        return undefined;
      case "content:afterPublish":
      case "content:afterUnpublish":
        await fn({ content: contentOf(event), collection: event.collection }, c);
        return undefined;
      case "media:beforeUpload": {
        const file = { name: event.filename, type: event.mimeType, size: event.size };
        const r = await fn({ file }, c);
        if (r && typeof r === "object" && (r.name !== file.name || r.type !== file.type)) {
          // Pilcrow cannot rename or retype an upload; keeping the original
          // would ignore the plugin, so the upload is refused instead.
          throw new Error(`the plugin changed the upload to ${JSON.stringify(r.name)} (${r.type}); Pilcrow cannot rename or retype an upload, so it is refused`);
        }
        return undefined;
      }
      case "media:afterUpload":
        await fn({ media: mediaItem(event) }, c);
        return undefined;
      case "cron": {
        const ev = { name: event.name, scheduledAt: event.scheduledAt };
        if (event.data !== null && event.data !== undefined) ev.data = event.data;
        await fn(ev, c);
        return undefined;
      }
      case "page:metadata":
        return metadataOf(await fn(pageOf(event, ctx), c));
      case "plugin:uninstall":
        await fn({ deleteData: !!event.deleteData }, c);
        return undefined;
      default:
        await fn({}, c);
        return undefined;
    }
  };
  if (policy !== "continue") return call;
  // errorPolicy "continue" in the code: a failure is logged and the
  // operation goes on with the data unchanged, as EmDash does.
  return async (event, ctx) => {
    try {
      return await call(event, ctx);
    } catch (err) {
      ctx.log.error(`${name} failed (errorPolicy continue): ${err && err.message ? err.message : String(err)}`);
      return undefined;
    }
  };
}

// ── routes ──────────────────────────────────────────────────────────────────

const BODY_METHODS = ["POST", "PUT", "PATCH"];

export function routeContext(req) {
  const method = String(req.method || "GET").toUpperCase();
  let input;
  if (BODY_METHODS.includes(method)) {
    input = req.body === null ? undefined : req.body;
  } else {
    input = Object.assign({}, req.query || {});
  }
  const headers = req.headers || {};
  const rc = {
    input,
    request: { url: req.url, method, headers },
    requestMeta: {
      ip: req.ip || null,
      userAgent: headers["user-agent"] || null,
      referer: headers["referer"] || null,
      geo: null,
    },
  };
  if (req.user) rc.user = userInfo(req.user);
  return rc;
}

function routeAdapter(r, fn, schema, meta) {
  return async (req, ctx) => {
    const rc = routeContext(req);
    if (schema && typeof schema.safeParse === "function") {
      const parsed = schema.safeParse(rc.input);
      if (!parsed.success) {
        return invalidInput(parsed.error);
      }
      rc.input = parsed.data;
    }
    const result = await fn(rc, emdashCtx(ctx, meta));
    const headers = {};
    if (r.cacheControl && (rc.request.method === "GET" || rc.request.method === "HEAD")) {
      headers["cache-control"] = r.cacheControl;
    }
    // Always the full response shape, so an EmDash result that happens to
    // look like {status, body} is still sent as the JSON it is.
    return { status: 200, headers, body: result === undefined ? null : result };
  };
}

// invalidInput answers a failed input schema as Pilcrow answers bad input: a
// 400 problem document whose detail names each issue and whose errors point
// at each field (JSON Pointer, as Pilcrow's own problems do). EmDash's
// {error, issues} members are kept, so a client written for EmDash still
// finds them.
export function invalidInput(error) {
  const raw = error && Array.isArray(error.issues) ? error.issues : [];
  const issues = raw.filter((i) => i && typeof i === "object").map((i) => ({
    code: typeof i.code === "string" ? i.code : "custom",
    path: Array.isArray(i.path) ? i.path.map((p) => (typeof p === "number" ? p : String(p))) : [],
    message: typeof i.message === "string" && i.message ? i.message : "invalid",
  }));
  const errors = issues.map((i) => ({
    path: i.path.map((p) => "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join(""),
    message: i.message,
  }));
  const named = issues.map((i) => (i.path.length ? i.path.join(".") + ": " : "") + i.message);
  const detail = named.length
    ? "the input does not match the route's schema: " + named.join("; ")
    : "the input does not match the route's schema" + (error && error.message ? ": " + String(error.message) : "");
  return {
    status: 400,
    headers: { "content-type": "application/problem+json" },
    body: { type: "about:blank", title: "Invalid input", status: 400, detail, errors, error: "Invalid input", issues },
  };
}

// ── admin: Block Kit ────────────────────────────────────────────────────────
//
// Pilcrow's admin asks {type: "page"|"widget"|"action", …} and renders
// Pilcrow blocks; EmDash plugins answer interactions ({type: "page_load" |
// "block_action" | "form_submit"}) with Block Kit. Actions carry their kind
// in the Pilcrow action id: "b-<action_id>" for a button (its value JSON in
// values.value), "f-<action_id>" for a form; a table's next page carries
// "<page_action_id> <cursor>" in the cursor.

const SAFE_ID = /^[A-Za-z0-9_-]{1,62}$/;

export function interactionOf(body) {
  const b = body || {};
  if (b.type === "widget") return { type: "page_load", page: "widget:" + b.id };
  if (b.type === "page") {
    const cursor = b.query && b.query.cursor;
    if (typeof cursor === "string" && cursor.includes(" ")) {
      const i = cursor.indexOf(" ");
      return { type: "block_action", action_id: cursor.slice(0, i), value: cursor.slice(i + 1) };
    }
    return { type: "page_load", page: b.path };
  }
  if (b.type === "action") {
    const id = String(b.actionId || "");
    const values = b.values || {};
    if (id.startsWith("b-")) {
      let value;
      if (typeof values.value === "string" && values.value !== "") {
        try {
          value = JSON.parse(values.value);
        } catch (e) {
          value = values.value;
        }
      }
      const a = { type: "block_action", action_id: id.slice(2) };
      if (value !== undefined) a.value = value;
      return a;
    }
    if (id.startsWith("f-")) return { type: "form_submit", action_id: id.slice(2), values };
    return { type: "block_action", action_id: id };
  }
  throw new TypeError(`unknown admin request type ${JSON.stringify(b.type)}`);
}

function note(text) {
  return { type: "text", text };
}

function str(v) {
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

function button(el) {
  if (!SAFE_ID.test(el.action_id || "")) return note(`(button ${str(el.label)}: its action_id cannot be carried by Pilcrow's admin)`);
  const b = { type: "button", label: str(el.label) || el.action_id, actionId: "b-" + el.action_id };
  if (el.style === "primary" || el.style === "danger") b.style = el.style;
  if (el.value !== undefined) b.value = JSON.stringify(el.value);
  return b;
}

const INPUTS = {
  text_input: (el) => (el.multiline ? "textarea" : "text"),
  number_input: () => "number",
  select: () => "select",
  combobox: () => "select",
  radio: () => "select",
  toggle: () => "toggle",
  date_input: () => "date",
};

function formInput(el) {
  const kind = INPUTS[el.type];
  if (!kind) return null;
  const input = { type: kind(el), name: el.action_id, label: str(el.label) || el.action_id };
  if (el.initial_value !== undefined && el.initial_value !== null) input.value = el.initial_value;
  if (input.type === "select") input.options = (el.options || []).map((o) => ({ label: str(o.label), value: str(o.value) }));
  return input;
}

// blocksOf converts EmDash blocks to Pilcrow blocks. What Pilcrow's blocks
// cannot draw becomes a short text saying so, never a silent gap.
export function blocksOf(blocks) {
  const out = [];
  const walk = (list) => {
    for (const b of list || []) {
      if (!b || typeof b !== "object") continue;
      switch (b.type) {
        case "header":
          out.push({ type: "header", text: str(b.text) });
          break;
        case "section":
          out.push({ type: "text", text: str(b.text) });
          if (b.accessory) element(b.accessory);
          break;
        case "context":
          out.push({ type: "text", text: str(b.text) });
          break;
        case "divider":
          out.push({ type: "divider" });
          break;
        case "fields":
          out.push({ type: "fields", items: (b.fields || []).map((f) => ({ label: str(f.label), value: str(f.value) })) });
          break;
        case "stats":
          out.push({
            type: "stats",
            items: (b.items || []).map((it) => {
              const s = { label: str(it.label), value: str(it.value) };
              if (it.trend) s.trend = it.trend;
              return s;
            }),
          });
          break;
        case "table": {
          const t = {
            type: "table",
            columns: (b.columns || []).map((c) => ({ key: str(c.key), label: str(c.label) })),
            rows: (b.rows || []).map((row) => {
              const r = {};
              for (const k of Object.keys(row || {})) r[k] = row[k] === undefined ? null : row[k];
              return r;
            }),
          };
          if (b.next_cursor && SAFE_ID.test(b.page_action_id || "")) t.nextCursor = b.page_action_id + " " + b.next_cursor;
          if (t.rows.length === 0 && b.empty_text) {
            out.push({ type: "text", text: str(b.empty_text) });
          } else {
            out.push(t);
          }
          break;
        }
        case "actions":
          for (const el of b.elements || []) element(el);
          break;
        case "form": {
          const inputs = [];
          const after = []; // what the form cannot hold, shown below it
          for (const f of b.fields || []) {
            const input = formInput(f);
            if (input) inputs.push(input);
            else if (f.type === "button") after.push(button(f));
            else after.push(note(`(form field ${str(f.label)}: a ${f.type} is not available in Pilcrow's admin)`));
          }
          const submit = b.submit || {};
          if (!SAFE_ID.test(submit.action_id || "")) {
            out.push(note("(a form whose submit action_id cannot be carried by Pilcrow's admin)"));
            out.push(...after);
            break;
          }
          out.push({
            type: "form",
            id: b.block_id && SAFE_ID.test(b.block_id) ? b.block_id : "f-" + submit.action_id,
            inputs,
            submit: { label: str(submit.label) || "Submit", actionId: "f-" + submit.action_id },
          });
          out.push(...after);
          break;
        }
        case "image":
          out.push({ type: "link", label: str(b.alt || b.title || b.url), href: str(b.url) });
          break;
        case "columns":
          for (const col of b.columns || []) walk(col);
          break;
        case "banner": {
          const text = [b.title, b.description].filter(Boolean).map(str).join("\n\n");
          if (text) out.push({ type: "text", text });
          break;
        }
        case "meter": {
          const value = b.custom_value !== undefined ? str(b.custom_value) : b.max !== undefined ? `${b.value} / ${b.max}` : str(b.value);
          out.push({ type: "stats", items: [{ label: str(b.label), value }] });
          break;
        }
        case "code":
          out.push({ type: "text", text: str(b.code) });
          break;
        case "tab":
          for (const p of b.panels || []) {
            out.push({ type: "header", text: str(p.label) });
            walk(p.blocks);
          }
          break;
        case "accordion":
          out.push({ type: "header", text: str(b.label) });
          walk(b.blocks);
          break;
        case "empty":
          out.push({ type: "header", text: str(b.title) });
          if (b.description) out.push({ type: "text", text: str(b.description) });
          for (const el of b.actions || []) element(el);
          break;
        case "chart":
          out.push(note("(a chart: not drawn by Pilcrow's admin)"));
          break;
        default:
          out.push(note(`(a ${str(b.type)} block: not drawn by Pilcrow's admin)`));
      }
    }
  };
  const element = (el) => {
    if (!el || typeof el !== "object") return;
    if (el.type === "button") {
      out.push(button(el));
      return;
    }
    // A lone input outside a form becomes a one-field form that submits it.
    const input = formInput(el);
    if (input && SAFE_ID.test(el.action_id || "")) {
      out.push({ type: "form", id: "f-" + el.action_id, inputs: [input], submit: { label: "Save", actionId: "f-" + el.action_id } });
      return;
    }
    out.push(note(`(${str(el.type)} ${str(el.label)}: not available in Pilcrow's admin)`));
  };
  walk(blocks);
  return out;
}

export function answerOf(result) {
  const r = result && typeof result === "object" ? result : {};
  const ans = { blocks: blocksOf(Array.isArray(r.blocks) ? r.blocks : []) };
  if (r.toast) ans.toast = typeof r.toast === "string" ? r.toast : { message: str(r.toast.message) };
  return ans;
}

function adminAdapter(fn, meta) {
  return async (req, ctx) => {
    const rc = routeContext(req);
    rc.input = interactionOf(req.body);
    const result = await fn(rc, emdashCtx(ctx, meta));
    return { status: 200, headers: {}, body: answerOf(result) };
  };
}
