import type { ChildProcess } from 'node:child_process';

type Cleanup = () => Promise<void>;

/**
 * Everything the bench starts (namespaces, processes, files), released in reverse order on exit,
 * on an error or on Ctrl-C. Each `add` returns the release of that one resource, for normal use.
 */
export class Resources {
  private readonly cleanups: Cleanup[] = [];
  private releasing: Promise<void> | null = null;

  add(cleanup: Cleanup): Cleanup {
    let done = false;
    const release = async (): Promise<void> => {
      if (done) return;
      done = true;
      const index = this.cleanups.indexOf(release);
      if (index >= 0) this.cleanups.splice(index, 1);
      await cleanup();
    };
    this.cleanups.push(release);
    return release;
  }

  /** Kills `child` on release (SIGTERM, then SIGKILL if it lingers) and waits for it to exit. */
  addProcess(child: ChildProcess): Cleanup {
    return this.add(() => stopProcess(child));
  }

  releaseAll(): Promise<void> {
    this.releasing ??= (async () => {
      while (this.cleanups.length > 0) await this.cleanups.at(-1)!().catch(() => {});
    })();
    return this.releasing;
  }

  /** Ctrl-C, SIGTERM and SIGHUP release everything, then exit. */
  releaseOnSignals(onSignal: () => void): void {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        onSignal();
        void this.releaseAll().finally(() => process.exit(130));
      });
    }
  }
}

async function stopProcess(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
