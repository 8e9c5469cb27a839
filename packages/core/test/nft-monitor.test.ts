import { describe, expect, it } from 'vitest';
import { ExecaExecutor, NftMonitor, type Executor, type WatchedTool } from '../src/index.js';

/** An executor whose watched tool prints what the test says; its reads are real (so their pids are kplane's own). */
function watching(): { executor: Executor; print: (...lines: string[]) => void; end: () => void } {
  const real = new ExecaExecutor();
  let onLine: (line: string) => void = () => {};
  let end: () => void = () => {};
  const executor: Executor = {
    live: true,
    apply: (batch) => real.apply(batch),
    read: (query) => real.read(query),
    watch(_query, lines): WatchedTool {
      onLine = lines;
      return { ended: new Promise<void>((resolve) => (end = resolve)), stop: () => end() };
    },
  };
  return { executor, print: (...lines) => lines.forEach((line) => onLine(line)), end: () => end() };
}

describe('NftMonitor', () => {
  it('reports changes to kplane\'s objects by other processes, not by its own tools, and gaps', async () => {
    const { executor, print, end } = watching();
    const monitor = new NftMonitor(executor, (line) => / ip kplane /.test(line));
    monitor.start();
    expect(monitor.take()).toEqual({ gap: true, foreign: [] });
    const own = (await executor.read({ tool: 'sh', args: ['-c', 'echo $$'] })).trim();
    print('add element ip kplane m { 1.2.3.4 : jump c }', `# new generation 5 by process ${own} (nft)`);
    print('add table ip other', '# new generation 6 by process 999999 (nft)');
    print('delete element ip kplane m { 1.2.3.4 : jump c }', 'delete rule ip kplane c handle 4', '# new generation 7 by process 999998 (nft)');
    expect(monitor.take()).toEqual({ gap: false, foreign: ['"delete element ip kplane m { 1.2.3.4 : jump c }" (and 1 more changes) by process 999998 (nft)'] });
    print('# ERROR: We lost some netlink events!');
    expect(monitor.take().gap).toBe(true);
    end();
    await new Promise((resolve) => setImmediate(resolve));
    // Ended: a gap, and watching again.
    expect(monitor.take()).toEqual({ gap: true, foreign: [] });
    print('flush chain ip kplane c', '# new generation 8 by process 999997 (nft)');
    expect(monitor.take().foreign).toHaveLength(1);
  });
});
