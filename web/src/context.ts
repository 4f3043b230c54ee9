// The signed-in session and the API, provided once by main.ts and injected by every view.
import { inject, type InjectionKey } from "vue";
import type { Api } from "./api/client";
import type { Auth } from "./auth";
import type { AppConfig } from "./config";

export const AUTH: InjectionKey<Auth> = Symbol("auth");
export const API: InjectionKey<Api> = Symbol("api");
export const CONFIG: InjectionKey<AppConfig> = Symbol("config");

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

export function useConfig(): AppConfig {
  const config = inject(CONFIG);
  if (!config) throw new Error("useConfig() outside the app");
  return config;
}
