// Written in the built form (what `pilcrow plugin build` makes of an ES
// module: the default export as globalThis.__pilcrow.default).
//
// Each hook POSTs what happened to the receiver; the token is added by the
// node's egress client, never seen here. A failed POST throws, so the
// delivery is retried.
async function tell(ctx, path, body) {
  const res = await ctx.http.fetch(ctx.settings.url + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error("receiver answered " + res.status);
}

globalThis.__pilcrow = { default: {
  hooks: {
    "content:afterSave": (event, ctx) => tell(ctx, "/save", { deliveryId: event.deliveryId, id: event.id, title: event.data.title }),
    "content:afterPublish": (event, ctx) => tell(ctx, "/publish", { deliveryId: event.deliveryId, id: event.id }),
    cron: (event, ctx) => tell(ctx, "/cron", { name: event.name, scheduledAt: event.scheduledAt }),
  },
} };
