import type { JsonlClient } from './client.js';

/** A file in memory, read back as a consumer would (`ports()`); `failNext()` makes the next write fail. */
export class FakeJsonlClient implements JsonlClient {
  readonly lines: string[] = [];
  private failures = 0;

  async write(lines: readonly string[], { append }: { readonly append: boolean }): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('injected write failure');
    }
    if (!append) this.lines.length = 0;
    this.lines.push(...lines);
  }

  failNext(): void {
    this.failures++;
  }

  /** The file replayed: each port's last "set" line, by key. */
  ports(): Map<string, unknown> {
    const ports = new Map<string, unknown>();
    for (const line of this.lines) {
      const entry = JSON.parse(line) as { op: string; key?: string };
      if (entry.op === 'reset') ports.clear();
      else if (entry.op === 'delete') ports.delete(entry.key!);
      else ports.set(entry.key!, entry);
    }
    return ports;
  }
}
