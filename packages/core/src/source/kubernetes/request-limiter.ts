import type { Middleware } from '@kubernetes/client-node';
import { TokenBucket } from 'limiter';

/** client-go's client-side rate limit: `qps` requests per second on average, bursts of up to `burst`. */
export class RequestLimiter {
  private readonly bucket: TokenBucket;

  constructor(qps: number, burst: number) {
    this.bucket = new TokenBucket({ bucketSize: burst, tokensPerInterval: 1, interval: 1000 / qps });
    // Like client-go's, the bucket starts full: a fresh agent may spend its burst at once.
    this.bucket.content = burst;
  }

  async take(): Promise<void> {
    await this.bucket.removeTokens(1);
  }

  /** The same limit as a middleware of client-node's generated APIs. */
  readonly middleware: Middleware = {
    pre: async (context) => {
      await this.take();
      return context;
    },
    post: async (response) => response,
  };
}
