import { afterEach, describe, expect, it, vi } from 'vitest';
import { RequestLimiter } from '../../src/source/kubernetes/request-limiter.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('RequestLimiter (--kube-api-qps, --kube-api-burst)', () => {
  it('lets a burst through at once, then one request per 1/qps seconds', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const limiter = new RequestLimiter(5, 3);
    const granted: number[] = [];
    for (let index = 0; index < 5; index++) void limiter.take().then(() => granted.push(index));
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toEqual([0, 1, 2]);
    await vi.advanceTimersByTimeAsync(199);
    expect(granted).toEqual([0, 1, 2]);
    await vi.advanceTimersByTimeAsync(2);
    expect(granted).toEqual([0, 1, 2, 3]);
    await vi.advanceTimersByTimeAsync(200);
    expect(granted).toEqual([0, 1, 2, 3, 4]);
  });
});
