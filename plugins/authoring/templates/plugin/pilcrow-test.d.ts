// Types of the test API of `pilcrow plugin test` (docs/plugins.md, "Tests").
// The test files in test/*.test.ts run with these globals; plugin.hook and
// plugin.route run the plugin in the sandbox against the local site, which
// every test of one run shares.

/** Registers a test; tests run in the order they are registered. */
declare function test(name: string, fn: () => void | Promise<void>): void;

/** Starts an assertion about a value. */
declare function expect<T>(actual: T): PilcrowTest.Matchers<T>;

/** The plugin under test. */
declare const plugin: {
  /** Runs a hook with an event (default: test/events/<hook>.json, else a minimal one). Rejects with a PluginError when the hook throws or hits a limit. */
  hook(name: string, event?: unknown, options?: PilcrowTest.InvokeOptions): Promise<any>;
  /** Calls a route; the request's missing parts default to a GET with no query. Resolves to what the route returned. */
  route(name: string, request?: Partial<PilcrowTest.Request>, options?: PilcrowTest.InvokeOptions): Promise<any>;
};

declare namespace PilcrowTest {
  interface InvokeOptions {
    /** Setting values for this call, by key. */
    settings?: Record<string, unknown>;
    /** Capabilities to withhold for this call, e.g. ["content:write"]. */
    deny?: string[];
  }
  interface Request {
    method: string;
    path: string;
    query: Record<string, string>;
    headers: Record<string, string>;
    body: unknown;
  }
  /** What a rejected plugin.hook or plugin.route carries. */
  interface PluginError extends Error {
    name: "PluginError";
    /** "threw", "limit", "rejected", "not-exported", … as `plugin run --json` names them. */
    kind: string;
    limit?: string;
    /** The plugin's stack, in its source files. */
    pluginStack?: string;
    logs: { level: string; message: string }[];
  }
  interface Matchers<T> {
    toBe(expected: T): void;
    toEqual(expected: unknown): void;
    toBeTruthy(): void;
    toBeFalsy(): void;
    toBeNull(): void;
    toBeUndefined(): void;
    toBeDefined(): void;
    toBeGreaterThan(n: number): void;
    toBeLessThan(n: number): void;
    toContain(item: unknown): void;
    toMatch(pattern: string | RegExp): void;
    toHaveLength(n: number): void;
    /** For a function: that calling it throws (a message containing, or matching, expected). */
    toThrow(expected?: string | RegExp): void;
    not: Matchers<T>;
    /** For a promise: that it rejects. Await the result. */
    rejects: { toThrow(expected?: string | RegExp): Promise<void> };
    /** For a promise: what it resolves to. Await the result. */
    resolves: { toEqual(expected: unknown): Promise<void>; toBe(expected: unknown): Promise<void> };
  }
}
