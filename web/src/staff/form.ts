// Small pieces the staff forms share.
import { ApiError, Code, type FieldViolation } from "../api/errors";

/** A violation found before asking the server, shaped like the server's (a BadRequest), so it
 *  shows next to its field the same way. */
export function localInvalid(violations: FieldViolation[]): ApiError {
  return new ApiError(
    Code.INVALID_ARGUMENT,
    "INVALID_ARGUMENT",
    violations.map((v) => `${v.field}: ${v.description}`).join("; "),
    400,
    violations,
  );
}

/** A number input's value (v-model.number gives "" when empty), or null. */
export function numberOrNull(value: number | string | null | undefined): number | null {
  if (value === null || value === undefined || value === "") return null;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

/** Only the named fields of `body` (a PATCH sends the fields its update mask names). */
export function pick<T extends object>(body: T, fields: string[]): Partial<T> {
  const out: Partial<T> = {};
  for (const f of fields) {
    if (f in body) {
      const key = f as keyof T;
      if (body[key] !== undefined) out[key] = body[key];
    }
  }
  return out;
}
