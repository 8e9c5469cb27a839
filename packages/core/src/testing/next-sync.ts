import type { Engine } from '../engine/engine.js';

/**
 * Resolves after the engine's next successful sync. A fake clock settles timers and promises, but
 * cannot wait for a real tool's process to exit: a test whose backend does real I/O waits for this.
 */
export function nextSync(engine: Engine): Promise<void> {
  return new Promise((resolve) => {
    let waiting = true;
    engine.onSynced(async () => {
      if (!waiting) return;
      waiting = false;
      resolve();
    });
  });
}
