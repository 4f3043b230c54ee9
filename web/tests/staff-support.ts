// Mounting a staff page in jsdom with the app's real i18n and a router, and an API whose
// answers each test scripts (the real client's contract: resolve with the JSON body, reject
// with ApiError).
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { defineComponent, type Component } from "vue";
import { createMemoryHistory, createRouter, type Router } from "vue-router";
import type { Api, Query } from "../src/api/client";
import { errorFromResponse } from "../src/api/errors";
import type { Auth } from "../src/auth";
import { API, AUTH, CONFIG } from "../src/context";
import { i18n } from "../src/i18n";

export interface Call {
  method: string;
  path: string;
  body?: unknown;
  query?: Query;
}

export type Handler = (call: Call) => unknown;

/** An Api that records each call and answers with `handler` (a thrown error rejects). */
export function fakeApi(handler: Handler): Api & { calls: Call[] } {
  const calls: Call[] = [];
  const run = async <T>(call: Call): Promise<T> => {
    calls.push(call);
    return (await handler(call)) as T;
  };
  return {
    calls,
    get: (path, query) => run({ method: "GET", path, query }),
    post: (path, body, query) => run({ method: "POST", path, body, query }),
    patch: (path, body, query) => run({ method: "PATCH", path, body, query }),
    del: (path, query) => run({ method: "DELETE", path, query }),
  };
}

/** The error the gateway sends for a request with bad fields (snake_case names, as the
 *  services write them). */
export function badRequest(violations: Array<[string, string]>) {
  return errorFromResponse(400, {
    code: 3,
    message: violations.map(([f, d]) => `${f}: ${d}`).join("; "),
    details: [
      { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "INVALID_ARGUMENT", domain: "yoga.studio" },
      {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        fieldViolations: violations.map(([field, description]) => ({ field, description })),
      },
    ],
  });
}

export function failedPrecondition(reason: string, metadata: Record<string, string> = {}) {
  return errorFromResponse(400, {
    code: 9,
    message: reason,
    details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "yoga.studio", metadata }],
  });
}

const Empty = defineComponent({ render: () => null });

export function staffRouter(): Router {
  const names = [
    ["/staff/classes", "staff-classes"],
    ["/staff/classes/new", "staff-class-new"],
    ["/staff/classes/:classId/edit", "staff-class-edit"],
    ["/staff/classes/:classId/roster", "staff-roster"],
    ["/staff/series", "staff-series"],
    ["/staff/series/new", "staff-series-new"],
    ["/staff/series/:seriesId/edit", "staff-series-edit"],
    ["/staff/members/:userId?", "staff-member"],
    ["/staff/settings", "staff-settings"],
    ["/", "timetable"],
  ] as const;
  return createRouter({
    history: createMemoryHistory(),
    routes: names.map(([path, name]) => ({ path, name, component: Empty })),
  });
}

export async function mountStaff(
  component: Component,
  options: { api: Api; props?: Record<string, unknown>; route?: string; timeZone?: string; locale?: "ko" | "en" },
): Promise<{ wrapper: VueWrapper; router: Router }> {
  i18n.global.locale.value = options.locale ?? "en";
  const router = staffRouter();
  await router.push(options.route ?? "/staff/classes");
  await router.isReady();
  const wrapper = mount(component, {
    props: options.props,
    attachTo: document.body,
    global: {
      plugins: [i18n, router],
      provide: {
        [API as symbol]: options.api,
        [AUTH as symbol]: {} as Auth,
        [CONFIG as symbol]: { issuer: "http://idp.test/realms/studio", clientId: "yoga-web", timeZone: options.timeZone ?? "Asia/Seoul" },
      },
    },
  });
  await flushPromises();
  return { wrapper, router };
}

export const byTestId = (w: VueWrapper, id: string) => w.find(`[data-testid="${id}"]`);
