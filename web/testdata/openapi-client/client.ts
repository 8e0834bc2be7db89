// A small front-end client typed by the types openapi-typescript generates
// from GET /api/openapi.json (written next to this file as api.d.ts by
// TestOpenAPITypeScriptClient, which then runs tsc --noEmit over both).
import createClient from "openapi-fetch";
import type { components, paths } from "./api";

type Schemas = components["schemas"];
export type Post = Schemas["Entry_posts"];
export type PostData = Schemas["Data_posts"];
export type Problem = Schemas["Problem"];

export function pilcrow(baseUrl: string, token?: string) {
  return createClient<paths>({
    baseUrl,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
}

function fail(p: Problem): never {
  const where = (p.errors ?? []).map((e) => `${e.path}: ${e.message}`).join("; ");
  throw new Error(`${p.status} ${p.title}: ${p.detail ?? ""} ${where}`);
}

// Public delivery needs no sign-in.
export async function latestSlugs(baseUrl: string): Promise<string[]> {
  const { data, error } = await pilcrow(baseUrl).GET("/api/public/{collection}", {
    params: { path: { collection: "posts" }, query: { limit: 10, sort: "-publishedAt" } },
  });
  if (error) fail(error);
  return (data.items ?? []).map((e) => e.slug);
}

// Writing takes the collection's typed data and gives back the entry.
export async function createPost(baseUrl: string, token: string, input: PostData): Promise<Post> {
  const { data, error } = await pilcrow(baseUrl, token).POST("/api/collections/{name}/entries", {
    params: { path: { name: "posts" } },
    body: { data: input },
  });
  if (error) fail(error);
  const version: number = data.version;
  const status: "draft" | "scheduled" | "published" | "trashed" = data.status;
  void version, status;
  return data as Post;
}

export async function publish(baseUrl: string, token: string, post: Post): Promise<Post> {
  const { data, error } = await pilcrow(baseUrl, token).POST("/api/collections/{name}/entries/{id}/publish", {
    params: { path: { name: "posts", id: post.id }, header: { "If-Match": `"${post.version}"` } },
  });
  if (error) fail(error);
  return data as Post;
}

// The collection's fields are typed: these must not compile.
// @ts-expect-error rating is an integer field
export const wrongType: PostData = { rating: "five" };
// @ts-expect-error category is a select of news, howto, opinion
export const wrongOption: PostData = { category: "gossip" };
