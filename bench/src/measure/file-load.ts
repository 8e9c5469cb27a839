import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SANDBOX_NETWORK } from '@kplane/conformance/sandbox';
import type { CliBundle } from '../process/bundle.js';
import type { Resources } from '../process/resources.js';
import type { FileLoadRun } from '../report/results.js';
import { Workload } from '../workload.js';

/**
 * The workload's manifests as a YAML file (Services and EndpointSlices, kubectl's block style), read
 * `repeats` times, each in a fresh process: core's reader alone, then `kplane plan --source file:`
 * with nft from process start to exit (read, validation, tracker, plan, printing the batches).
 */
export async function measureFileLoad(services: number, seed: number, repeats: number, bundle: CliBundle, resources: Resources): Promise<FileLoadRun> {
  const directory = mkdtempSync(join(tmpdir(), 'kplane-bench-'));
  const removeDirectory = resources.add(async () => rmSync(directory, { recursive: true, force: true }));
  try {
    const file = join(directory, 'services.yaml');
    const workload = new Workload({ services, seed, changes: 0, fileEdits: 0 });
    const text = workload.manifests();
    writeFileSync(file, text);
    const objects = workload.events().length;
    const parseMs: number[] = [];
    const planMs: number[] = [];
    for (let repeat = 0; repeat < repeats; repeat++) {
      const { stdout } = await execa(process.execPath, [bundle.parseManifest, file]);
      const read = JSON.parse(stdout) as { ms: number; objects: number };
      if (read.objects !== objects) throw new Error(`the manifest reader found ${read.objects} objects in the file, not ${objects}`);
      parseMs.push(read.ms);
      const started = performance.now();
      await execa(process.execPath, [
        bundle.cli, 'plan', '--backend', 'nft', '--backend-module', bundle.backendModules.nft, '--source', `file:${file}`,
        '--node-name', SANDBOX_NETWORK.nodeName, ...SANDBOX_NETWORK.nodeIPs.flatMap((ip) => ['--node-ip', ip]), '--log-level', 'warn',
      ], { stdout: 'ignore' });
      planMs.push(performance.now() - started);
    }
    return { services, bytes: Buffer.byteLength(text), parseMs, planMs };
  } finally {
    await removeDirectory();
  }
}
