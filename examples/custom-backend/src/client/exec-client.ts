import type { Executor } from '@kplane/core';
import type { JsonlClient } from './client.js';

/** The real client: one `tee` batch per write, through core's executor (so `kplane plan` prints it). */
export class ExecJsonlClient implements JsonlClient {
  constructor(private readonly executor: Executor, private readonly file: string) {}

  async write(lines: readonly string[], { append }: { readonly append: boolean }): Promise<void> {
    await this.executor.apply({ tool: 'tee', args: append ? ['-a', this.file] : [this.file], input: lines.map((line) => `${line}\n`).join('') });
  }
}
