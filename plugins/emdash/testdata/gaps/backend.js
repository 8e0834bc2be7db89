// An EmDash sandboxed plugin backend written for Pilcrow's tests. The route
// schema is a tiny validator with zod's safeParse contract ({success, data}
// or {success: false, error: {issues: [{code, path, message}]}}), so the
// fixture needs no npm dependency.

const v = {
  string: (o = {}) => (val, path) => {
    if (typeof val !== "string") return { issues: [{ code: "invalid_type", path, message: `Expected string, received ${val === null ? "null" : typeof val}` }] };
    const s = o.trim ? val.trim() : val;
    if (o.min !== undefined && s.length < o.min) return { issues: [{ code: "too_small", path, message: `String must contain at least ${o.min} character(s)` }] };
    if (o.email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(s)) return { issues: [{ code: "invalid_string", path, message: "Invalid email" }] };
    return { data: s };
  },
  number: (o = {}) => (val, path) => {
    if (typeof val !== "number" || !Number.isFinite(val)) return { issues: [{ code: "invalid_type", path, message: `Expected number, received ${typeof val}` }] };
    if (o.int && !Number.isInteger(val)) return { issues: [{ code: "invalid_type", path, message: "Expected integer, received float" }] };
    if (o.max !== undefined && val > o.max) return { issues: [{ code: "too_big", path, message: `Number must be less than or equal to ${o.max}` }] };
    return { data: val };
  },
  optional: (inner, dflt) => (val, path) => (val === undefined ? { data: dflt } : inner(val, path)),
  array: (inner) => (val, path) => {
    if (!Array.isArray(val)) return { issues: [{ code: "invalid_type", path, message: `Expected array, received ${typeof val}` }] };
    const data = [];
    const issues = [];
    val.forEach((x, i) => {
      const r = inner(x, path.concat(i));
      if (r.issues) issues.push(...r.issues);
      else data.push(r.data);
    });
    return issues.length ? { issues } : { data };
  },
  object: (shape) => {
    const check = (val, path) => {
      if (val === null || typeof val !== "object" || Array.isArray(val)) return { issues: [{ code: "invalid_type", path, message: `Expected object, received ${val === null ? "null" : typeof val}` }] };
      const data = {};
      const issues = [];
      for (const k of Object.keys(shape)) {
        const r = shape[k](val[k], path.concat(k));
        if (r.issues) issues.push(...r.issues);
        else if (r.data !== undefined) data[k] = r.data;
      }
      return issues.length ? { issues } : { data };
    };
    return {
      safeParse(val) {
        const r = check(val, []);
        return r.issues ? { success: false, error: { name: "ZodError", issues: r.issues } } : { success: true, data: r.data };
      },
    };
  },
};

const signup = v.object({
  email: v.string({ trim: true, email: true }),
  name: v.string({ trim: true, min: 1 }),
  seats: v.optional(v.number({ int: true, max: 10 }), 1),
  tags: v.optional(v.array(v.string()), []),
});

const keysOf = (o) => (o && typeof o === "object" ? Object.keys(o).sort() : null);

async function record(ctx, key, value) {
  await ctx.kv.set(key, value);
  const n = (await ctx.kv.get("count:" + key)) ?? 0;
  await ctx.kv.set("count:" + key, n + 1);
}

export default {
  hooks: {
    "plugin:install": async (_event, ctx) => {
      await ctx.cron.schedule("digest", { schedule: "0 0 1 1 *", data: { list: "weekly", n: 2 } });
    },
    "content:afterDelete": async (event, ctx) => {
      await record(ctx, "afterDelete", { keys: keysOf(event), id: event.id, collection: event.collection, permanent: event.permanent });
    },
    "content:afterPublish": async (event, ctx) => {
      const c = event.content || {};
      await record(ctx, "afterPublish", { keys: keysOf(event), collection: event.collection, id: c.id, title: c.title });
    },
    "content:afterUnpublish": async (event, ctx) => {
      const c = event.content || {};
      await record(ctx, "afterUnpublish", { keys: keysOf(event), collection: event.collection, id: c.id, title: c.title });
    },
    "media:beforeUpload": async (event, ctx) => {
      const f = event.file;
      await record(ctx, "beforeUpload", { keys: keysOf(event), fileKeys: keysOf(f), name: f.name, type: f.type, size: f.size });
      if (f.name.startsWith("secret-")) throw new Error("gaps refuses files named secret-*");
      if (f.name.startsWith("rename-")) return { ...f, name: f.name.slice("rename-".length) };
      return f;
    },
    cron: async (event, ctx) => {
      await record(ctx, "cron", { keys: keysOf(event), name: event.name, data: event.data, scheduledAt: event.scheduledAt });
    },
  },
  routes: {
    signup: {
      input: signup,
      handler: async (rc, ctx) => {
        await record(ctx, "signup", rc.input);
        return { input: rc.input, method: rc.request.method };
      },
    },
    state: async (rc, ctx) => {
      const out = {};
      for (const k of rc.input.keys || []) {
        out[k] = (await ctx.kv.get(k)) ?? null;
        out["count:" + k] = (await ctx.kv.get("count:" + k)) ?? 0;
      }
      return out;
    },
  },
};
