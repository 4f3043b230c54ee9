import { mount } from "@vue/test-utils";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ApiError, Code } from "../src/api/errors";
import { errorKey, errorText, isTimestamp } from "../src/api/messages";
import ErrorAlert from "../src/components/ErrorAlert.vue";
import { i18n } from "../src/i18n";
import enErrors from "../src/locales/en/errors.json";
import enMember from "../src/locales/en/member.json";
import koErrors from "../src/locales/ko/errors.json";
import koMember from "../src/locales/ko/member.json";
import { appGlobal, FakeApi, statusError, useLocale } from "./support";

const ROOT = join(__dirname, "..", "..");

function has(locale: "ko" | "en") {
  return (key: string) => i18n.global.te(key, locale);
}
function tr(locale: "ko" | "en") {
  return (key: string, values?: Record<string, unknown>) => i18n.global.t(key, values ?? {}, { locale });
}

describe("an error's message", () => {
  it("comes from its reason", () => {
    const error = statusError(409, Code.ALREADY_EXISTS, "ALREADY_BOOKED");
    expect(errorText(error, tr("en"), has("en"))).toBe("You already have a booking for this class.");
    expect(errorText(error, tr("ko"), has("ko"))).toBe("이 수업은 이미 예약하셨습니다.");
  });

  it("falls back to its code for a reason it does not know, then to a generic one", () => {
    const unknownReason = statusError(400, Code.FAILED_PRECONDITION, "SOMETHING_NEW");
    expect(errorKey(unknownReason, has("en"))).toBe("errors.code.9");
    expect(errorText(unknownReason, tr("en"), has("en"))).toBe("This cannot be done now.");
    const nothingKnown = new ApiError(99, "SOMETHING_NEW", "?", 418);
    expect(errorKey(nothingKnown, has("en"))).toBe("errors.generic");
    expect(errorKey(new Error("boom"), has("en"))).toBe("errors.generic");
    // A body that was no google.rpc.Status: named by the HTTP status, read by its code.
    const plain = new ApiError(Code.UNAVAILABLE, "HTTP_503", "?", 503);
    expect(errorKey(plain, has("ko"))).toBe("errors.code.14");
  });

  it("fills in the numbers and times the error carries", () => {
    const limit = statusError(400, Code.FAILED_PRECONDITION, "BOOKING_LIMIT", { limit: "2", held: "2" });
    expect(errorText(limit, tr("en"), has("en"))).toContain("You hold 2 upcoming bookings");
    expect(errorText(limit, tr("ko"), has("ko"))).toContain("한도(2건)");
    expect(isTimestamp("2030-03-11T06:00:00+00:00")).toBe(true);
    expect(isTimestamp("12")).toBe(false);
  });

  it("shows a block's end in the studio's zone", () => {
    useLocale("en");
    const blocked = statusError(400, Code.FAILED_PRECONDITION, "BLOCKED", {
      blocked_until: "2030-03-11T06:00:00+00:00",
    });
    const wrapper = mount(ErrorAlert, { props: { error: blocked }, global: appGlobal(new FakeApi()) });
    // 06:00 UTC is 15:00 in Seoul.
    expect(wrapper.text()).toContain("Mon, Mar 11, 2030 15:00 GMT+9");
    expect(wrapper.get('[role="alert"]').attributes("data-testid")).toBe("action-error");
  });
});

/** Every file under `dir` whose name ends with `ext`. */
function files(dir: string, ext: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== "migrations" && name !== "__pycache__") found.push(...files(path, ext));
    } else if (name.endsWith(ext)) {
      found.push(path);
    }
  }
  return found;
}

/** The ErrorInfo reasons the services and the gateway can send, read from their sources. */
function serverReasons(): Set<string> {
  const reasons = new Set<string>();
  const packages = readdirSync(ROOT).filter((d) => d.endsWith("_svc") || d === "yoga_common");
  for (const pkg of packages) {
    for (const file of files(join(ROOT, pkg), ".py")) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/\b(?:failed_precondition|already_exists|aborted|unavailable)\(\s*"([A-Z_]+)"/g)) {
        reasons.add(m[1]!);
      }
      for (const m of text.matchAll(/\bnot_found\(\s*"([a-z_]+)"/g)) reasons.add(`${m[1]!.toUpperCase()}_NOT_FOUND`);
      for (const m of text.matchAll(/ServiceError\(\s*Code\.[A-Z_]+,\s*"([A-Z_]+)"/g)) reasons.add(m[1]!);
    }
  }
  const envoy = readFileSync(join(ROOT, "envoy", "envoy.yaml.tmpl"), "utf8");
  for (const m of envoy.matchAll(/ErrorInfo, reason: ([A-Z_]+)/g)) reasons.add(m[1]!);
  // Refusals by the studio's rules are raised with the reservation's reason (refusal_by_rules).
  for (const r of ["BOOKING_LIMIT", "BLOCKED"]) reasons.add(r);
  return reasons;
}

function keys(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
}

describe("the translations", () => {
  it("have a message in Korean and English for every reason the server sends", () => {
    const reasons = serverReasons();
    // The scan works: it finds reasons of each kind of source.
    for (const r of ["ALREADY_BOOKED", "CLASS_NOT_FOUND", "CONCURRENT_CHANGE", "ROUTE_NOT_FOUND"]) {
      expect(reasons).toContain(r);
    }
    expect(reasons.size).toBeGreaterThan(25);
    const missing = [...reasons].filter((r) => !has("en")(`errors.${r}`) || !has("ko")(`errors.${r}`));
    expect(missing).toEqual([]);
  });

  it("have a message for every status code and for every reason a booking is rejected", () => {
    for (let code = 0; code <= 16; code++) {
      expect(has("en")(`errors.code.${code}`)).toBe(true);
      expect(has("ko")(`errors.code.${code}`)).toBe(true);
    }
    for (const reason of ["CLASS_FULL", "CLASS_NOT_FOUND", "CLASS_CANCELLED", "CLASS_STARTED", "BOOKING_LIMIT", "BLOCKED"]) {
      expect(has("en")(`errors.${reason}`)).toBe(true);
      expect(has("ko")(`errors.${reason}`)).toBe(true);
    }
  });

  it("say the same things in both languages", () => {
    expect(keys(koErrors).sort()).toEqual(keys(enErrors).sort());
    expect(keys(koMember).sort()).toEqual(keys(enMember).sort());
  });
});
