import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Running the kplane CLI from its sources, under a PATH of recording tool shims. */

export const ROOT = new URL('../../../../', import.meta.url).pathname;
export const CLI = [process.execPath, '--conditions=kplane-source', '--import', 'tsx', 'packages/core/src/cli/main.ts'] as const;
/** Every tool a backend runs, by the name it is looked up as. */
const TOOLS = [
  'nft', 'ip', 'ipset', 'ipvsadm', 'conntrack', 'sysctl', 'modprobe', 'tee',
  ...['iptables', 'ip6tables'].flatMap((tool) => ['', '-nft', '-legacy'].flatMap((variant) => ['', '-save', '-restore'].map((suffix) => `${tool}${variant}${suffix}`))),
];

/**
 * A PATH holding only recording shims of the dataplane tools: a kplane run under it cannot touch the
 * kernel, and `calls` lists every tool it started (a tool outside TOOLS, or in `missing`, is not found at all).
 */
export function toolShims(missing: readonly string[] = []): { env: NodeJS.ProcessEnv; calls: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'kplane-shims-'));
  const log = join(dir, 'calls.log');
  for (const tool of TOOLS.filter((name) => !missing.includes(name))) writeFileSync(join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> "${log}"\n`, { mode: 0o755 });
  return {
    // No kubeconfig to be found but the one a test names: $HOME holds no .kube.
    env: { ...process.env, PATH: dir, HOME: dir, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' },
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
  };
}

/**
 * How a fault shim treats the calls it intercepts: through to the real tool, exit 1 with a message
 * on stderr, never return, or fail only the calls numbered in `failCalls` (counted from 1 when the
 * mode is set: one batch of a split sync).
 */
export type FaultMode = 'pass' | 'fail' | 'hang' | { readonly failCalls: readonly number[] };

/**
 * Shims of real tools for a PATH that puts them first: each call goes through to the real tool,
 * except calls whose arguments match the tool's shell `case` pattern (`'-f -'` for nft's applies),
 * which follow the mode set last. A failing call reads its input, then exits 1 with
 * `<tool>: injected failure (kplane fault shim)` on stderr.
 */
export function faultShims(patterns: Readonly<Record<string, string>>): { path: string; setMode(mode: FaultMode): void; intercepted(): number } {
  const dir = mkdtempSync(join(tmpdir(), 'kplane-fault-shims-'));
  const modeFile = join(dir, 'mode');
  const countFile = join(dir, 'count');
  const setMode = (mode: FaultMode): void => {
    writeFileSync(countFile, '0');
    writeFileSync(modeFile, typeof mode === 'string' ? mode : `calls: ${mode.failCalls.join(' ')} `);
  };
  setMode('pass');
  for (const [tool, pattern] of Object.entries(patterns)) {
    const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    const fail = `cat >/dev/null; echo "${tool}: injected failure (kplane fault shim)" >&2; exit 1`;
    writeFileSync(join(dir, tool), [
      '#!/bin/sh',
      `case "$*" in ${pattern})`,
      // Calls are counted one at a time: the tests run split syncs with one transaction at a time.
      `  n=$(( $(cat '${countFile}') + 1 )); echo "$n" > '${countFile}'`,
      `  mode=$(cat '${modeFile}')`,
      '  case "$mode" in',
      `    fail) ${fail} ;;`,
      '    hang) exec sleep 3600 ;;',
      `    calls:*) case "$mode" in *" $n "*) ${fail} ;; esac ;;`,
      '  esac ;;',
      'esac',
      `exec ${real} "$@"`,
      '',
    ].join('\n'), { mode: 0o755 });
  }
  return { path: `${dir}:${process.env.PATH ?? ''}`, setMode, intercepted: () => Number(readFileSync(countFile, 'utf8')) };
}

/** The exit of `kplane ARGS`, killed after `limitMs` if it has not ended (a hang must fail the test, not stall it). */
export function kplane(args: readonly string[], env: NodeJS.ProcessEnv, limitMs = 30_000): Promise<{ code: number | null; killed: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(CLI[0], [...CLI.slice(1), ...args], { cwd: ROOT, env, timeout: limitMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const failure = error as (Error & { code?: number; killed?: boolean }) | null;
      resolve({ code: failure ? failure.code ?? null : 0, killed: failure?.killed ?? false, stdout, stderr });
    });
  });
}

