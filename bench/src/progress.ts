import cliProgress from 'cli-progress';

/** Where the bench says what it is doing: a progress bar on a terminal, plain lines elsewhere, JSON lines inside the VM. */
export interface Progress {
  /** What is being measured now. */
  status(text: string): void;
  /** A planned step finished; `work` is its share of the total (see the weights below), for the time estimate. */
  advance(text: string, work: number): void;
  /** A line that must stay visible (warnings, summaries). */
  log(text: string): void;
  stop(): void;
}

/** Rough relative cost of the steps, so that the estimate of the time left means something: bigger N, longer steps. */
export const WORK = {
  run: (services: number, vm: boolean): number => (vm ? 10 + services / 250 : 2 + services / 1000),
  step: (services: number): number => 0.2 + services / 10_000,
};

export function createProgress(total: number, mode: 'terminal' | 'lines' | 'json'): Progress {
  if (mode === 'json') return jsonProgress();
  if (mode === 'terminal' && process.stderr.isTTY) return barProgress(total);
  return lineProgress(total);
}

function barProgress(total: number): Progress {
  const bars = new cliProgress.MultiBar({
    format: '{bar} {percentage}% | {duration_formatted} elapsed, ~{eta_formatted} left | {status}',
    etaBuffer: 4,
    hideCursor: true,
    stream: process.stderr,
  }, cliProgress.Presets.shades_classic);
  const bar = bars.create(total, 0, { status: 'starting' });
  return {
    status: (text) => bar.update({ status: text }),
    advance: (text, work) => bar.increment(work, { status: text }),
    log: (text) => bars.log(`${text}\n`),
    stop: () => bars.stop(),
  };
}

function lineProgress(total: number): Progress {
  let done = 0;
  let shown = '';
  const started = Date.now();
  const stamp = (): string => `[${Math.round((100 * done) / total)}%, ${Math.round((Date.now() - started) / 1000)}s]`;
  return {
    // A log is no bar: "change 7/30" is said once, as "change 1/30".
    status: (text) => {
      const kind = text.replace(/\d+\/\d+/, '');
      if (kind !== shown) process.stderr.write(`${stamp()} ${text}\n`);
      shown = kind;
    },
    advance: (text, work) => {
      done += work;
      process.stderr.write(`${stamp()} ${text}\n`);
    },
    log: (text) => process.stderr.write(`${text}\n`),
    stop: () => {},
  };
}

/** Inside the VM: the host reads these lines and moves its own bar. */
function jsonProgress(): Progress {
  const emit = (kind: string, text: string, work = 0): void => void process.stdout.write(`${JSON.stringify({ progress: kind, text, work })}\n`);
  return {
    status: (text) => emit('status', text),
    advance: (text, work) => emit('advance', text, work),
    log: (text) => emit('log', text),
    stop: () => {},
  };
}
