import cliProgress from 'cli-progress';

/** Where the bench says what it is doing: a progress bar on a terminal, plain lines elsewhere, JSON lines inside the VM. */
export interface Progress {
  /** What is being measured now. */
  status(text: string): void;
  /** One planned step finished. */
  advance(text: string): void;
  /** A line that must stay visible (warnings, summaries). */
  log(text: string): void;
  stop(): void;
}

export function createProgress(total: number, mode: 'terminal' | 'lines' | 'json'): Progress {
  if (mode === 'json') return jsonProgress();
  if (mode === 'terminal' && process.stderr.isTTY) return barProgress(total);
  return lineProgress(total);
}

function barProgress(total: number): Progress {
  const bar = new cliProgress.SingleBar({
    format: '{bar} {value}/{total} steps | {duration_formatted} elapsed, ~{eta_formatted} left | {status}',
    etaBuffer: 4,
    hideCursor: true,
    stream: process.stderr,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { status: 'starting' });
  return {
    status: (text) => bar.update({ status: text }),
    advance: (text) => bar.increment({ status: text }),
    log: (text) => {
      bar.stop();
      process.stderr.write(`${text}\n`);
      bar.start(total, bar.getProgress() * total, {});
    },
    stop: () => bar.stop(),
  };
}

function lineProgress(total: number): Progress {
  let done = 0;
  const started = Date.now();
  const stamp = (): string => `[${done}/${total}, ${Math.round((Date.now() - started) / 1000)}s]`;
  return {
    status: (text) => process.stderr.write(`${stamp()} ${text}\n`),
    advance: (text) => {
      done++;
      process.stderr.write(`${stamp()} ${text}\n`);
    },
    log: (text) => process.stderr.write(`${text}\n`),
    stop: () => {},
  };
}

/** Inside the VM: the host reads these lines and moves its own bar. */
function jsonProgress(): Progress {
  const emit = (kind: string, text: string): void => void process.stdout.write(`${JSON.stringify({ progress: kind, text })}\n`);
  return {
    status: (text) => emit('status', text),
    advance: (text) => emit('advance', text),
    log: (text) => emit('log', text),
    stop: () => {},
  };
}
