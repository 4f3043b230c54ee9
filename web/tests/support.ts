// Shared by the component tests: a fake JSON API that records calls and answers from a
// script, an in-memory Storage, and the app's plugins and injections.
import type { Api, Query } from "../src/api/client";
import { errorFromResponse, networkError } from "../src/api/errors";
import type { Auth } from "../src/auth";
import type { AppConfig } from "../src/config";
import { API, AUTH, CONFIG } from "../src/context";
import { i18n } from "../src/i18n";
import { computed, shallowRef } from "vue";
import { createMemoryHistory, createRouter, type Router } from "vue-router";

export interface Call {
  method: string;
  path: string;
  body?: unknown;
  query?: Query;
}

type Answer = unknown | ((call: Call) => unknown | Promise<unknown>);

/** A fake API: `on(method, path)` sets the answer (a value, a function, or an Error to throw). */
export class FakeApi implements Api {
  calls: Call[] = [];
  private answers = new Map<string, Answer>();

  on(method: string, path: string, answer: Answer): this {
    this.answers.set(`${method} ${path}`, answer);
    return this;
  }

  callsTo(method: string, path: string): Call[] {
    return this.calls.filter((c) => c.method === method && c.path === path);
  }

  private async answer<T>(call: Call): Promise<T> {
    this.calls.push(call);
    const found = this.answers.get(`${call.method} ${call.path}`);
    if (found === undefined) throw new Error(`no answer for ${call.method} ${call.path}`);
    const value = typeof found === "function" ? await (found as (c: Call) => unknown)(call) : found;
    if (value instanceof Error) throw value;
    return value as T;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.answer({ method: "GET", path, query });
  }
  post<T>(path: string, body?: unknown, query?: Query): Promise<T> {
    return this.answer({ method: "POST", path, body, query });
  }
  patch<T>(path: string, body: unknown, query?: Query): Promise<T> {
    return this.answer({ method: "PATCH", path, body, query });
  }
  del<T>(path: string, query?: Query): Promise<T> {
    return this.answer({ method: "DELETE", path, query });
  }
}

/** An error as the gateway sends it: a google.rpc.Status with an ErrorInfo. */
export function statusError(
  httpStatus: number,
  code: number,
  reason: string,
  metadata: Record<string, string> = {},
) {
  return errorFromResponse(httpStatus, {
    code,
    message: reason.toLowerCase(),
    details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "yoga.studio", metadata }],
  });
}

export const offline = () => networkError(new TypeError("Failed to fetch"));

export class MemoryStorage implements Pick<Storage, "getItem" | "setItem" | "removeItem"> {
  items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

/** A promise resolved from outside: an answer that arrives when the test says. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const MEMBER_ID = "7b0c6a52-1111-4c3e-9c55-0d1f00000001";

export function fakeAuth(): Auth {
  const user = shallowRef(null);
  return {
    user,
    signedIn: computed(() => true),
    userId: computed(() => MEMBER_ID),
    roles: computed(() => ["member"]),
    isStaff: computed(() => false),
    signIn: async () => undefined,
    signUp: async () => undefined,
    signOut: async () => undefined,
    completeSignIn: async () => "/",
    accessToken: async () => "token",
  };
}

export const CONFIG_SEOUL: AppConfig = { issuer: "http://idp", clientId: "yoga-web", timeZone: "Asia/Seoul" };

export function testRouter(): Router {
  const empty = { template: "<div />" };
  return createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/", component: empty },
      { path: "/classes/:classId", component: empty },
      { path: "/me", component: empty },
    ],
  });
}

/** Mount options: i18n, a router, and the app's injections. */
export function appGlobal(api: Api, router: Router = testRouter(), config: AppConfig = CONFIG_SEOUL) {
  return {
    plugins: [i18n, router],
    provide: { [API as symbol]: api, [AUTH as symbol]: fakeAuth(), [CONFIG as symbol]: config },
  };
}

export function useLocale(locale: "ko" | "en"): void {
  i18n.global.locale.value = locale;
}

export const flush = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
