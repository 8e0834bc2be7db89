// Tests of this plugin. `pilcrow plugin test .` runs every test/*.test.ts:
// plugin.hook and plugin.route run the plugin in the sandbox against one
// local site that the tests of a run share, so a route sees what a hook
// wrote. The test API is typed in pilcrow-test.d.ts.

import { tidyTitle } from "../src/text";

test("tidyTitle trims and collapses spaces", () => {
  expect(tidyTitle("  Hello,   Pilcrow  ")).toBe("Hello, Pilcrow");
});

test("saving an entry tidies its title", async () => {
  // No event given: test/events/content.beforeSave.json.
  const data = await plugin.hook("content:beforeSave");
  expect(data.title).toBe("Hello, Pilcrow");
});

test("the route reads back the reading time the hook stored", async () => {
  const answer = await plugin.route("reading-time", { query: { collection: "posts", id: "example-entry" } });
  expect(answer).toEqual({ collection: "posts", id: "example-entry", minutes: 1 });
});

test("the route asks for the entry", async () => {
  const answer = await plugin.route("reading-time", { query: {} });
  expect(answer.status).toBe(400);
});
