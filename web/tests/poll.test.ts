import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startPolling } from "../src/poll";

class FakeDocument {
  visibilityState: DocumentVisibilityState = "visible";
  private listeners = new Set<() => void>();
  addEventListener(_: string, listener: () => void): void {
    this.listeners.add(listener);
  }
  removeEventListener(_: string, listener: () => void): void {
    this.listeners.delete(listener);
  }
  set(state: DocumentVisibilityState): void {
    this.visibilityState = state;
    for (const l of this.listeners) l();
  }
  get listening(): number {
    return this.listeners.size;
  }
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("polling", () => {
  it("reads every interval while the tab is visible, not while hidden, at once when shown", async () => {
    const doc = new FakeDocument();
    const task = vi.fn(async () => undefined);
    const poller = startPolling(task, 2000, doc as unknown as Document);
    await poller.now();
    expect(task).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(2000);
    expect(task).toHaveBeenCalledTimes(2);
    doc.set("hidden");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(task).toHaveBeenCalledTimes(2);
    doc.set("visible");
    await vi.advanceTimersByTimeAsync(0);
    expect(task).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(2000);
    expect(task).toHaveBeenCalledTimes(4);
    poller.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(task).toHaveBeenCalledTimes(4);
    expect(doc.listening).toBe(0);
  });

  it("keeps going after a failed read, and never runs two reads at once", async () => {
    const doc = new FakeDocument();
    let running = 0;
    let most = 0;
    let calls = 0;
    const task = async () => {
      calls++;
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 3000)); // slower than the interval
      running--;
      if (calls === 1) throw new Error("offline");
    };
    const poller = startPolling(task, 2000, doc as unknown as Document);
    void poller.now();
    void poller.now(); // asked again while a read is out: one more read follows it
    await vi.advanceTimersByTimeAsync(3000);
    await vi.advanceTimersByTimeAsync(3000);
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toBe(3);
    expect(most).toBe(1);
    poller.stop();
  });
});
