// What a person reads for a failed call: the translated message of its ErrorInfo reason
// (locales/*/errors.json, `errors.<REASON>`), else of its status code (`errors.code.<n>`),
// else a generic one. The server's own message is never shown: it is for developers.
import { ApiError } from "./errors";

export type Translate = (key: string, values?: Record<string, unknown>) => string;
export type HasKey = (key: string) => boolean;

export function errorKey(error: unknown, has: HasKey): string {
  if (error instanceof ApiError) {
    if (has(`errors.${error.reason}`)) return `errors.${error.reason}`;
    if (has(`errors.code.${error.code}`)) return `errors.code.${error.code}`;
  }
  return "errors.generic";
}

export function errorText(error: unknown, t: Translate, has: HasKey): string {
  const metadata = error instanceof ApiError ? error.metadata : {};
  return t(errorKey(error, has), metadata);
}
