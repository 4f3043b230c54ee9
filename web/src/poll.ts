// Refreshing without a reload: a page's data is read again every POLL_MS while the tab is
// visible, so a seat count or a status another member changed shows within POLL_MS plus one
// round trip (the issue asks for 3 s). A hidden tab asks nothing; it reads at once when it is
// shown again. One read at a time: the next waits for the last to finish.
import { onMounted, onUnmounted } from "vue";

export const POLL_MS = 2000;

export interface Poller {
  /** Reads now (and restarts the interval), unless a read is already running. */
  now(): Promise<void>;
  stop(): void;
}

export function startPolling(
  task: () => Promise<void>,
  interval = POLL_MS,
  doc: Pick<Document, "visibilityState" | "addEventListener" | "removeEventListener"> = document,
): Poller {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  let stopped = false;

  function schedule(): void {
    clearTimeout(timer);
    timer = undefined;
    if (!stopped && doc.visibilityState === "visible") timer = setTimeout(() => void tick(), interval);
  }

  function tick(): Promise<void> {
    if (stopped) return Promise.resolve();
    // A read is out: its answer may already be stale (the page asked for another week), so
    // one more read follows it at once.
    if (running) {
      queued ??= running.then(() => {
        queued = null;
        return tick();
      });
      return queued;
    }
    clearTimeout(timer);
    running = (async () => {
      try {
        await task();
      } catch {
        // The task shows its own failure; polling goes on and may succeed next time.
      } finally {
        running = null;
        schedule();
      }
    })();
    return running;
  }

  function onVisibility(): void {
    if (doc.visibilityState === "visible") void tick();
    else {
      clearTimeout(timer);
      timer = undefined;
    }
  }

  doc.addEventListener("visibilitychange", onVisibility);
  return {
    now: tick,
    stop() {
      stopped = true;
      clearTimeout(timer);
      doc.removeEventListener("visibilitychange", onVisibility);
    },
  };
}

/** Polls for as long as the component is mounted; the first read starts on mount. */
export function usePolling(task: () => Promise<void>, interval = POLL_MS): { refresh(): Promise<void> } {
  let poller: Poller | null = null;
  onMounted(() => {
    poller = startPolling(task, interval);
    void poller.now();
  });
  onUnmounted(() => poller?.stop());
  return { refresh: () => poller?.now() ?? Promise.resolve() };
}
