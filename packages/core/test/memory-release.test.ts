import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryRelease } from '../src/cli/memory-release.js';

describe('MemoryRelease (the agent gives back the heap a burst of syncs grew)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('collects once the agent is quiet after a burst of syncs, not after each', () => {
    const collect = vi.fn();
    const memory = new MemoryRelease(collect);
    for (let sync = 0; sync < 5; sync++) {
      memory.worked();
      vi.advanceTimersByTime(500);
    }
    expect(collect).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2000);
    expect(collect).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it('still collects every 30 s under steady churn, where the agent is never quiet', () => {
    const collect = vi.fn();
    const memory = new MemoryRelease(collect);
    for (let second = 0; second < 61; second++) {
      memory.worked();
      vi.advanceTimersByTime(1000);
    }
    expect(collect).toHaveBeenCalledTimes(2);
    memory.stop();
  });

  it('collects the garbage of a burst without --expose-gc on the command line', () => {
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe('undefined');
    let garbage: { index: number; text: string }[] | null = Array.from({ length: 1_000_000 }, (_, index) => ({ index, text: `object ${index}` }));
    expect(garbage.length).toBe(1_000_000);
    garbage = null;
    const grown = process.memoryUsage().heapUsed;
    const memory = new MemoryRelease();
    memory.worked();
    vi.advanceTimersByTime(2000);
    // The million objects (over 50 MB) were garbage still in the heap: no allocation had asked for their room.
    expect(grown - process.memoryUsage().heapUsed).toBeGreaterThan(50 * 2 ** 20);
  });
});
