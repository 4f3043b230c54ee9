// Idempotency keys: one per attempt at a change, sent again unchanged when the same attempt is
// retried (a double click, a lost answer), so the server makes the class or series once.
import { ref, watch, type Ref, type WatchSource } from "vue";

/** A random UUID (v4). crypto.randomUUID exists only on secure origins; getRandomValues
 *  everywhere. */
export function newRequestId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface RequestIds {
  /** The key of the current attempt (made on first use). */
  current(): string;
  /** The attempt finished (or its content changed): the next call makes a new key. */
  reset(): void;
  readonly value: Ref<string | null>;
}

/** One key per attempt; a change of `source` (the form's content) starts a new attempt, since
 *  the server refuses a key reused for a different request. */
export function useRequestId(source?: WatchSource<unknown>): RequestIds {
  const value = ref<string | null>(null);
  if (source) watch(source, () => (value.value = null), { deep: true });
  return {
    value,
    current: () => (value.value ??= newRequestId()),
    reset: () => {
      value.value = null;
    },
  };
}
