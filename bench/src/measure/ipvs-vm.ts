import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../process/paths.js';
import type { Resources } from '../process/resources.js';
import type { Progress } from '../progress.js';
import type { BackendRun, VmPart } from '../report/results.js';

const RUN_VM = join(REPO_ROOT, 'scripts/ipvs-vm/run.sh');
const VM_SCRIPT = join(REPO_ROOT, 'bench/scripts/vm-bench.sh');
/** What the inner run writes into the shared output folder. */
export const VM_RESULTS_FILE = 'vm-runs.json';

export interface VmRequest {
  readonly sizes: readonly number[];
  readonly seed: number;
  readonly quick: boolean;
  readonly timeoutS: number;
}

/**
 * The ipvs backend measured inside the IPVS VM (scripts/ipvs-vm, a stock Debian kernel under qemu):
 * the bench runs itself there with `--inner`, reports progress as JSON lines and writes its runs
 * into a folder shared with the host. Returns why it could not run rather than failing the bench.
 */
export async function measureInVm(request: VmRequest, progress: Progress, resources: Resources): Promise<VmPart> {
  if (!existsSync(RUN_VM)) return { available: false, reason: 'the VM harness scripts/ipvs-vm/run.sh is missing', runs: [] };
  const out = mkdtempSync(join(tmpdir(), 'kplane-bench-vm-'));
  const removeOut = resources.add(async () => rmSync(out, { recursive: true, force: true }));
  const args = [RUN_VM, VM_SCRIPT, '--backends', 'ipvs', '--sizes', request.sizes.join(','), '--seed', String(request.seed), '--out', out, ...(request.quick ? ['--quick'] : [])];
  const vm = spawn('bash', args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, IPVS_VM_ROOT: 'host', IPVS_VM_OUT: out, IPVS_VM_TIMEOUT: String(request.timeoutS), IPVS_VM_MEM: '3072' },
  });
  const stopVm = resources.addProcess(vm);
  let output = '';
  const keep = (line: string): void => void (output = `${output}${line}\n`.slice(-4096));
  vm.stderr.on('data', (chunk: Buffer) => keep(chunk.toString().trimEnd()));
  createInterface({ input: vm.stdout }).on('line', (line) => {
    const event = parseProgress(line);
    if (!event) return keep(line);
    const text = `VM: ${event.text}`;
    if (event.progress === 'advance') progress.advance(text, event.work);
    else if (event.progress === 'status') progress.status(text);
    else progress.log(text);
  });
  const code = await new Promise<number | null>((resolve) => vm.once('exit', resolve));
  await stopVm();
  try {
    const file = join(out, VM_RESULTS_FILE);
    if (!existsSync(file)) return { available: true, reason: `the VM run ended (exit ${code}) without results: ${output.trim().split('\n').slice(-6).join(' / ')}`, runs: [] };
    const { kernel, runs } = JSON.parse(readFileSync(file, 'utf8')) as { kernel: string; runs: BackendRun[] };
    return { available: true, kernel, runs, ...(code !== 0 && { reason: `exit ${code}: ${output.trim().split('\n').slice(-3).join(' / ')}` }) };
  } finally {
    await removeOut();
  }
}

function parseProgress(line: string): { progress: string; text: string; work: number } | null {
  if (!line.startsWith('{"progress"')) return null;
  try {
    return JSON.parse(line) as { progress: string; text: string; work: number };
  } catch {
    return null;
  }
}
