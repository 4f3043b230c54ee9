// The JSON API on this origin (/v1/..., Envoy's gRPC-JSON transcoding), with the signed-in
// user's bearer token. An expired session (401) renews once, then sends the user to sign in
// and back to the page they were on.
import { ApiError, errorFromResponse, networkError } from "./errors";

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface ApiOptions {
  /** A valid access token, or null when signed out. */
  token(): Promise<string | null>;
  /** Called when the API refuses the session: sign in again and come back. */
  onUnauthenticated(): void;
  fetcher?: typeof fetch;
}

export interface Api {
  get<T>(path: string, query?: Query): Promise<T>;
  post<T>(path: string, body?: unknown, query?: Query): Promise<T>;
  patch<T>(path: string, body: unknown, query?: Query): Promise<T>;
  del<T>(path: string, query?: Query): Promise<T>;
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export function createApi(options: ApiOptions): Api {
  const fetcher = options.fetcher ?? ((input, init) => fetch(input, init));

  async function call<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const token = await options.token();
    const headers: Record<string, string> = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let answer: Response;
    try {
      answer = await fetcher(withQuery(path, query), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (cause) {
      throw networkError(cause);
    }
    const text = await answer.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = undefined;
    }
    if (!answer.ok) {
      const error = errorFromResponse(answer.status, parsed);
      if (answer.status === 401) options.onUnauthenticated();
      throw error;
    }
    if (parsed === undefined) {
      throw new ApiError(13, "BAD_RESPONSE", "the answer was not JSON", answer.status);
    }
    return parsed as T;
  }

  return {
    get: (path, query) => call("GET", path, undefined, query),
    post: (path, body, query) => call("POST", path, body ?? {}, query),
    patch: (path, body, query) => call("PATCH", path, body, query),
    del: (path, query) => call("DELETE", path, undefined, query),
  };
}
