// What a person reads for a failed call: the translated message of its ErrorInfo reason
// (locales/*/errors.json, `errors.<REASON>`), else of its status code (`errors.code.<n>`),
// else a generic one. The server's own message is never shown: it is for developers.
// The ErrorInfo metadata fill the message's placeholders ({limit}, {held}, {blocked_until});
// `formatValue` turns a value a person should not read raw (an RFC 3339 time) into words.
import { ApiError } from "./errors";

export type Translate = (key: string, values?: Record<string, unknown>) => string;
export type HasKey = (key: string) => boolean;
export type FormatValue = (value: string) => string;

export function errorKey(error: unknown, has: HasKey): string {
  if (error instanceof ApiError) {
    if (has(`errors.${error.reason}`)) return `errors.${error.reason}`;
    if (has(`errors.code.${error.code}`)) return `errors.code.${error.code}`;
  }
  return "errors.generic";
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Whether a metadata value is a point in time (the services send isoformat()). */
export function isTimestamp(value: string): boolean {
  return TIMESTAMP.test(value) && !Number.isNaN(new Date(value).getTime());
}

export function errorText(
  error: unknown,
  t: Translate,
  has: HasKey,
  formatValue: FormatValue = (value) => value,
): string {
  const metadata = error instanceof ApiError ? error.metadata : {};
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) values[name] = formatValue(value);
  return t(errorKey(error, has), values);
}
