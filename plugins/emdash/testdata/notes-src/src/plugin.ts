import type { PluginContext, SandboxedPlugin } from "emdash/plugin";
import { adminAnswer } from "./page";

interface SaveEvent {
  content: Record<string, unknown> & { id: string };
  collection: string;
  isNew: boolean;
}

const plugin = {
  hooks: {
    "content:beforeSave": {
      priority: 20,
      errorPolicy: "continue",
      handler: async (event: SaveEvent) => {
        if (event.content.title === "boom") throw new Error("boom, but the save goes on");
      },
    },
    "content:afterSave": {
      priority: 7,
      timeout: 1500,
      handler: async (event: SaveEvent, ctx: PluginContext) => {
        await ctx.storage.notes.put("note-" + event.content.id, { entryId: event.content.id, at: Date.now() });
      },
    },
  },
  routes: {
    hello: {
      public: true,
      handler: async (rc: { input: { name?: string } }) => ({ hello: rc.input.name ?? "world" }),
    },
    count: {
      permission: "content:read",
      handler: async (_rc: unknown, ctx: PluginContext) => ({ notes: await ctx.storage.notes.count() }),
    },
    admin: {
      handler: async (rc: { input: any }, ctx: PluginContext) => adminAnswer(rc.input, await ctx.storage.notes.count()),
    },
  },
} satisfies SandboxedPlugin;

export default plugin;
