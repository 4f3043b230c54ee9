// The signed-in session and the API, provided once by main.ts and injected by every view.
import { inject, type InjectionKey } from "vue";
import type { Api } from "./api/client";
import type { Auth } from "./auth";

export const AUTH: InjectionKey<Auth> = Symbol("auth");
export const API: InjectionKey<Api> = Symbol("api");

export function useAuth(): Auth {
  const auth = inject(AUTH);
  if (!auth) throw new Error("useAuth() outside the app");
  return auth;
}

export function useApi(): Api {
  const api = inject(API);
  if (!api) throw new Error("useApi() outside the app");
  return api;
}
