package manifest

import "strings"

// The TypeScript declarations of the plugin API, which plugins/authoring
// assembles into pilcrow.d.ts. Each fragment belongs to a row of the
// vocabulary (an API's Typings, a hook's Event); docs/plugins.md documents the
// same API, so keep the two in step. Every fragment is indented for the body
// of `declare namespace Pilcrow { … }`.

// TypingsCommon declares the types every fragment may use.
const TypingsCommon = `  /**
   * Data crosses the sandbox boundary as JSON: functions, symbols and cycles do
   * not survive, and properties whose value is undefined are dropped.
   */
  type JSONValue = string | number | boolean | null | JSONValue[] | JSONObject;
  type JSONObject = { [key: string]: JSONValue | undefined };
  type MaybePromise<T> = T | Promise<T>;

  /** An entry's field values, keyed by field name. */
  type EntryData = JSONObject;

  /** A page of results; nextCursor is absent on the last page. */
  interface Page<T> {
    readonly items: T[];
    readonly nextCursor?: string;
  }

  interface ListOptions {
    /** Page size; the host clamps it. */
    limit?: number;
    /** The nextCursor of the previous page. */
    cursor?: string;
  }
`

const tsLog = `
  /** Log lines are kept with the invocation in the plugin's logs. */
  interface Log {
    debug(message: string, data?: JSONValue): void;
    info(message: string, data?: JSONValue): void;
    warn(message: string, data?: JSONValue): void;
    error(message: string, data?: JSONValue): void;
  }
`

const tsKV = `
  /** A key-value store private to this plugin. Values are JSON. */
  interface KV {
    get<T extends JSONValue = JSONValue>(key: string): Promise<T | null>;
    set(key: string, value: JSONValue): Promise<void>;
    delete(key: string): Promise<void>;
    list(prefix?: string): Promise<Array<{ key: string; value: JSONValue }>>;
  }
`

const tsSite = `
  /** The site the plugin runs on, as its admin configured it. */
  interface Site {
    readonly name: string;
    /** The site's public URL, without a trailing slash. */
    readonly url: string;
    /** A BCP 47 language tag, e.g. "en" or "de-CH". */
    readonly locale: string;
    /** An IANA time zone, e.g. "UTC" or "Europe/Paris". */
    readonly timezone: string;
  }
`

const tsSiteURL = `
  /**
   * ctx.url(path): the absolute URL of a path on the site. Throws a TypeError
   * for anything but a path starting with one "/" (no "//", backslash or
   * control character), so the result never leaves the site.
   */
  type SiteURL = (path: string) => string;
`

// tsStorage declares one collection's object; the Storage interface itself
// lists the manifest's collections.
const tsStorage = `
  /** A document in one of the plugin's storage collections. */
  interface StoredDocument<T extends JSONValue = JSONValue> {
    readonly id: string;
    readonly data: T;
  }

  /** A value an indexed field can be compared with. */
  type IndexValue = string | number | boolean | null;

  /**
   * The condition on one indexed field: a value (equality; null matches null
   * and absent fields), one of several values, a range (numbers or strings,
   * never both), or a string prefix. Operators of one field are ANDed.
   */
  type WhereCondition =
    | IndexValue
    | { in: IndexValue[] }
    | { gt?: number | string; gte?: number | string; lt?: number | string; lte?: number | string; startsWith?: string };

  /** Conditions on indexed fields, ANDed. Any other field is an error naming it. */
  type Where = { [field: string]: WhereCondition };

  /** Indexed fields, "-field" for descending, {field: "asc" | "desc"} (key order is the order), or an array of those. */
  type OrderBy = string | { [field: string]: "asc" | "desc" } | Array<string | { [field: string]: "asc" | "desc" }>;

  interface StorageQuery {
    where?: Where;
    orderBy?: OrderBy;
    /** 1 to 1000; 50 when absent. */
    limit?: number;
    /** The cursor of the previous page of the same query. */
    cursor?: string;
  }

  /** A page of a query; cursor is absent on the last page. */
  interface StoragePage<T extends JSONValue = JSONValue> {
    readonly items: Array<StoredDocument<T>>;
    readonly cursor?: string;
    readonly hasMore: boolean;
  }

  /**
   * One storage collection, private to this plugin. A write that breaks a
   * unique index or the plugin's storage quota throws naming it; a batch
   * (at most 100 ids or documents) is one transaction: all or nothing.
   */
  interface StorageCollection<T extends JSONValue = JSONValue> {
    get<U extends JSONValue = T>(id: string): Promise<U | null>;
    put<U extends JSONValue = T>(id: string, data: U): Promise<void>;
    delete(id: string): Promise<boolean>;
    exists(id: string): Promise<boolean>;
    /** The documents that exist, keyed by id, in the order asked. */
    getMany<U extends JSONValue = T>(ids: string[]): Promise<Map<string, U>>;
    putMany<U extends JSONValue = T>(items: Array<{ id: string; data: U }>): Promise<void>;
    /** Returns how many of the documents existed. */
    deleteMany(ids: string[]): Promise<number>;
    query<U extends JSONValue = T>(query?: StorageQuery): Promise<StoragePage<U>>;
    count(where?: Where): Promise<number>;
  }
`

// tsCron declares ctx.cron, which a plugin declaring the cron hook has.
const tsCron = `
  /** A schedule as ctx.cron.list returns it. */
  interface CronSchedule {
    readonly name: string;
    readonly schedule: string;
    /** "manifest" for the manifest's schedules, "runtime" for ctx.cron.schedule's. */
    readonly source: "manifest" | "runtime";
    readonly data?: JSONValue;
    /** ISO 8601, UTC. */
    readonly nextRunAt: string;
    readonly lastRunAt: string | null;
  }

  /**
   * ctx.cron, with the cron hook: schedules of the plugin's own, kept across
   * restarts, that fire the cron hook with their name and data. A schedule
   * is five cron fields or @hourly, @daily, @weekly, @monthly, @yearly (UTC);
   * at most 16 per plugin.
   */
  interface Cron {
    /** Creates or replaces the schedule name (not one of the manifest's). */
    schedule(name: string, schedule: string | { schedule: string; data?: JSONValue }, data?: JSONValue): Promise<void>;
    /** Returns whether there was such a runtime schedule. */
    cancel(name: string): Promise<boolean>;
    /** The manifest's schedules and the runtime ones. */
    list(): Promise<CronSchedule[]>;
  }
`

// tsEntry is shared by both content capabilities; only one of them is ever
// emitted because write supersedes read.
const tsEntry = `
  interface Entry {
    readonly id: string;
    readonly collection: string;
    readonly slug: string;
    readonly status: "draft" | "scheduled" | "published" | "trashed";
    readonly version: number;
    readonly data: EntryData;
    readonly createdAt: string;
    readonly updatedAt: string;
    readonly publishedAt?: string;
  }

  interface ContentListOptions extends ListOptions {
    status?: Entry["status"];
  }
`

const tsContentReader = `
  /** ctx.content with content:read. */
  interface ContentReader {
    get(collection: string, id: string): Promise<Entry | null>;
    list(collection: string, options?: ContentListOptions): Promise<Page<Entry>>;
  }
`

const tsContentWriter = `
  /** ctx.content with content:write (which includes reading). */
  interface ContentWriter {
    get(collection: string, id: string): Promise<Entry | null>;
    list(collection: string, options?: ContentListOptions): Promise<Page<Entry>>;
    create(collection: string, data: EntryData): Promise<Entry>;
    update(collection: string, id: string, data: EntryData): Promise<Entry>;
    delete(collection: string, id: string): Promise<void>;
  }
`

const tsMediaReader = `
  /** ctx.media with media:read. */
  interface MediaReader {
    get(id: string): Promise<MediaItem | null>;
    list(options?: ListOptions): Promise<Page<MediaItem>>;
  }
`

const tsMediaWriter = `
  interface MediaUpload {
    filename: string;
    mimeType: string;
    /** The file's bytes, base64-encoded. */
    data: string;
    alt?: string;
  }

  /** ctx.media with media:write (which includes reading). */
  interface MediaWriter {
    get(id: string): Promise<MediaItem | null>;
    list(options?: ListOptions): Promise<Page<MediaItem>>;
    upload(file: MediaUpload): Promise<MediaItem>;
    delete(id: string): Promise<void>;
  }
`

const tsUsers = `
  /** A user as plugins see it: never a password hash, token or session. */
  interface User {
    readonly id: string;
    readonly email: string;
    readonly name?: string;
    readonly role: "admin" | "editor" | "author";
    readonly createdAt: string;
  }

  /** ctx.users with users:read. */
  interface Users {
    get(id: string): Promise<User | null>;
    list(options?: ListOptions): Promise<Page<User>>;
  }
`

const tsHTTP = `
  interface FetchInit {
    method?: string;
    /** An object, [name, value] pairs or a Headers; names are case-insensitive. */
    headers?: HeadersInit;
    /** Text, form fields (sent as application/x-www-form-urlencoded) or bytes. */
    body?: string | URLSearchParams | BufferSource;
    /** Cancels the request: AbortSignal.timeout(ms) or an AbortController's signal. */
    signal?: AbortSignal;
  }

  interface FetchResponse {
    readonly status: number;
    readonly statusText: string;
    readonly ok: boolean;
    /** The URL of the final response, after redirects. */
    readonly url: string;
    readonly redirected: boolean;
    readonly headers: Headers;
    text(): Promise<string>;
    json<T = JSONValue>(): Promise<T>;
    arrayBuffer(): Promise<ArrayBuffer>;
  }

  /** ctx.http with network:request: only to the manifest's allowed hosts. */
  interface Http {
    /** Rejects with the signal's reason (a DOMException named AbortError or TimeoutError) when init.signal aborts. */
    fetch(url: string | URL, init?: FetchInit): Promise<FetchResponse>;
  }
`

const tsEmail = `
  interface EmailMessage {
    to: string | string[];
    subject: string;
    text?: string;
    html?: string;
    replyTo?: string;
  }

  /**
   * ctx.email with email:send. send resolves once the message is queued
   * durably; the site delivers it through its --smtp server with retries.
   * It throws when the site has no mail transport ("no mail transport is
   * configured"), on a bad message, and past limits.emailsPerHour.
   */
  interface Email {
    send(message: EmailMessage): Promise<void>;
  }
`

// EventTypings declares the hooks' events and what they may return (every
// HookSpec's Event and Returns, except CronEvent). They are always emitted:
// hooks may be declared without any capability, and MediaItem is the media
// hooks' event even without media:read.
const EventTypings = `
  /** plugin:install, plugin:activate and plugin:deactivate carry no data of their own; ctx.plugin names the plugin. */
  interface LifecycleEvent {
    readonly [key: string]: JSONValue | undefined;
  }

  interface UninstallEvent extends LifecycleEvent {
    /** Whether the admin asked for the plugin's data to be deleted. */
    readonly deleteData: boolean;
  }

  /** The event of every content:* hook. */
  interface ContentEvent {
    readonly collection: string;
    readonly id: string;
    readonly isNew: boolean;
    /** The entry's field values. content:beforeSave may return a changed copy. */
    readonly data: EntryData;
  }

  /**
   * What every after hook's event adds (content:after*, media:afterUpload).
   * After hooks are delivered at least once: a delivery whose outcome was
   * not recorded (the server stopped or crashed mid-delivery) runs again.
   */
  interface AfterHookDelivery {
    /**
     * Identifies this delivery: the same on every retry and redelivery of
     * it, different for every other event. Record it with what the hook
     * does (for example as a storage document's id) to do it only once.
     */
    readonly deliveryId: string;
  }

  /** The event of content:afterSave, afterDelete, afterPublish and afterUnpublish. */
  interface ContentAfterEvent extends ContentEvent, AfterHookDelivery {}

  /** The event of media:afterUpload. */
  interface MediaAfterEvent extends MediaItem, AfterHookDelivery {}

  interface MediaItem {
    readonly id: string;
    readonly url: string;
    readonly filename: string;
    readonly mimeType: string;
    readonly size: number;
    readonly width?: number;
    readonly height?: number;
    readonly alt?: string;
  }

  /** media:beforeUpload: throw to reject the upload. */
  interface MediaUploadEvent {
    readonly filename: string;
    readonly mimeType: string;
    readonly size: number;
    readonly width?: number;
    readonly height?: number;
    readonly alt?: string;
  }

  /** page:metadata: the published entry a public page shows. */
  interface PageMetadataEvent {
    readonly collection: string;
    readonly id: string;
    readonly slug: string;
    readonly data: EntryData;
    readonly publishedAt: string;
  }

  /** What page:metadata contributes to the public page. */
  interface PageMetadata {
    meta?: Array<{ name?: string; property?: string; content: string }>;
    /** rel must be on the host's allowlist (canonical, alternate, author, license, …). */
    link?: Array<{ rel: string; href: string; hreflang?: string; type?: string }>;
    jsonLd?: JSONObject[];
  }
`

// CronEventTypings declares the cron hook's event for a manifest whose
// schedules are names (sorted, distinct, already quoted as TypeScript
// strings); runtime schedules (ctx.cron.schedule) may have any name.
func CronEventTypings(quotedNames []string) string {
	names := "string"
	if len(quotedNames) > 0 {
		names = strings.Join(quotedNames, " | ") + " | (string & {})"
	}
	return "\n  /** The cron hook's event: which schedule fired, a manifest's or a runtime one. */\n" +
		"  interface CronEvent {\n    readonly name: " + names + ";\n    readonly schedule: string;\n" +
		"    /** The data given to ctx.cron.schedule (null for the manifest's schedules). */\n    readonly data: JSONValue;\n" +
		"    /** When the tick was due (ISO 8601, UTC); a tick missed while the site was down runs once, late. */\n    readonly scheduledAt: string;\n  }\n"
}

// RouteTypings declares a route handler's request and response. It refers to
// Context, which the generator writes from the grant.
const RouteTypings = `
  /** A request to one of the plugin's routes. */
  interface RouteRequest {
    readonly method: string;
    /** The path after /api/p/<plugin id>/. */
    readonly path: string;
    readonly query: { readonly [name: string]: string };
    /** Lower-case header names. */
    readonly headers: { readonly [name: string]: string };
    /** Parsed JSON for a JSON request, the text otherwise, null when empty. */
    readonly body: JSONValue;
    /** The client's address (X-Forwarded-For is honoured only behind a trusted proxy). */
    readonly ip: string;
    /** The absolute URL of the request. */
    readonly url: string;
    /** Who called a private route (absent on public routes): never a credential. */
    readonly user?: {
      readonly id: string;
      readonly name?: string;
      readonly role: "admin" | "editor" | "author";
    };
  }

  /** A full route response. Returning any other JSON value sends it as 200 JSON. */
  interface RouteResponse {
    status: number;
    headers?: { [name: string]: string };
    body?: JSONValue;
  }

  type RouteHandler = (request: RouteRequest, ctx: Context) => MaybePromise<RouteResponse | JSONValue>;
`

// TypingsGlobals declares the isolate's web platform globals (the rows of
// Globals), at the top level of pilcrow.d.ts: a plugin's tsconfig uses an
// ECMAScript lib without the DOM, which declares none of them.
const TypingsGlobals = `
/** The web platform globals of the Pilcrow sandbox (docs/plugins.md, "Web APIs"). */
type BufferSource = ArrayBuffer | ArrayBufferView;
type HeadersInit = Headers | Array<[string, string]> | Record<string, string>;

declare class URL {
  constructor(url: string | URL, base?: string | URL);
  static canParse(url: string | URL, base?: string | URL): boolean;
  static parse(url: string | URL, base?: string | URL): URL | null;
  href: string;
  readonly origin: string;
  protocol: string;
  username: string;
  password: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  readonly searchParams: URLSearchParams;
  hash: string;
  toString(): string;
  toJSON(): string;
}

declare class URLSearchParams {
  constructor(init?: string | Array<[string, string]> | Record<string, string> | URLSearchParams);
  readonly size: number;
  append(name: string, value: string): void;
  delete(name: string, value?: string): void;
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string, value?: string): boolean;
  set(name: string, value: string): void;
  sort(): void;
  toString(): string;
  forEach(callback: (value: string, name: string, params: URLSearchParams) => void, thisArg?: unknown): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}

declare class TextEncoder {
  readonly encoding: "utf-8";
  encode(input?: string): Uint8Array;
  encodeInto(input: string, destination: Uint8Array): { read: number; written: number };
}

/** UTF-8 only. */
declare class TextDecoder {
  constructor(label?: "utf-8" | "utf8" | "unicode-1-1-utf-8", options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: "utf-8";
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  decode(input?: BufferSource, options?: { stream?: boolean }): string;
}

declare function atob(data: string): string;
declare function btoa(data: string): string;
declare function structuredClone<T>(value: T): T;
declare function queueMicrotask(callback: () => void): void;

/** Timers run only while the invocation awaits its result, and never outlive it. */
declare function setTimeout<A extends unknown[]>(callback: (...args: A) => void, ms?: number, ...args: A): number;
declare function clearTimeout(id: number | undefined): void;
declare function setInterval<A extends unknown[]>(callback: (...args: A) => void, ms?: number, ...args: A): number;
declare function clearInterval(id: number | undefined): void;

declare class DOMException extends Error {
  constructor(message?: string, name?: string);
  readonly code: number;
  static readonly ABORT_ERR: 20;
  static readonly TIMEOUT_ERR: 23;
}

declare class AbortSignal {
  private constructor();
  static abort(reason?: unknown): AbortSignal;
  static timeout(ms: number): AbortSignal;
  static any(signals: Iterable<AbortSignal>): AbortSignal;
  readonly aborted: boolean;
  readonly reason: unknown;
  onabort: ((event: { type: "abort"; target: AbortSignal }) => void) | null;
  throwIfAborted(): void;
  addEventListener(type: "abort", listener: (event: { type: "abort"; target: AbortSignal }) => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: (event: { type: "abort"; target: AbortSignal }) => void): void;
}

declare class AbortController {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
}

declare class Headers {
  constructor(init?: HeadersInit);
  append(name: string, value: string): void;
  delete(name: string): void;
  get(name: string): string | null;
  getSetCookie(): string[];
  has(name: string): boolean;
  set(name: string, value: string): void;
  forEach(callback: (value: string, name: string, headers: Headers) => void, thisArg?: unknown): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}

type DigestAlgorithm = "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";
type HmacImportParams = { name: "HMAC"; hash: DigestAlgorithm | { name: DigestAlgorithm }; length?: number };

interface CryptoKey {
  readonly type: "secret";
  readonly extractable: boolean;
  readonly algorithm: { name: "HMAC"; hash: { name: DigestAlgorithm }; length: number };
  readonly usages: Array<"sign" | "verify">;
}

interface JsonWebKey {
  kty?: string;
  k?: string;
  alg?: string;
  key_ops?: string[];
  ext?: boolean;
}

/** SHA digests and HMAC keys. */
interface SubtleCrypto {
  digest(algorithm: DigestAlgorithm | { name: DigestAlgorithm }, data: BufferSource): Promise<ArrayBuffer>;
  importKey(format: "raw", keyData: BufferSource, algorithm: HmacImportParams, extractable: boolean, keyUsages: Array<"sign" | "verify">): Promise<CryptoKey>;
  importKey(format: "jwk", keyData: JsonWebKey, algorithm: HmacImportParams, extractable: boolean, keyUsages: Array<"sign" | "verify">): Promise<CryptoKey>;
  exportKey(format: "raw", key: CryptoKey): Promise<ArrayBuffer>;
  exportKey(format: "jwk", key: CryptoKey): Promise<JsonWebKey>;
  sign(algorithm: "HMAC" | { name: "HMAC" }, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
  verify(algorithm: "HMAC" | { name: "HMAC" }, key: CryptoKey, signature: BufferSource, data: BufferSource): Promise<boolean>;
}

declare var crypto: {
  /** At most 65536 bytes per call (a QuotaExceededError beyond). */
  getRandomValues<T extends Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array>(array: T): T;
  randomUUID(): string;
  readonly subtle: SubtleCrypto;
};
`
