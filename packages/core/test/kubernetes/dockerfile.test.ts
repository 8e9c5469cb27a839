import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';

/**
 * No Docker engine runs here, so the image is checked as far as that allows: the Dockerfile lints
 * clean, its stages are what the deployment needs, and every path and workspace it names exists.
 */
const ROOT = new URL('../../../../', import.meta.url).pathname;
const text = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const instructions = dockerfile.getInstructions();
const stages = splitStages(instructions);
const runtime = stages.at(-1)!;
const args = (instruction: Instruction) => instruction.getArguments().map((argument) => argument.getValue());

function splitStages(all: Instruction[]): Instruction[][] {
  const result: Instruction[][] = [];
  for (const instruction of all) {
    if (instruction.getKeyword() === 'FROM') result.push([]);
    result.at(-1)?.push(instruction);
  }
  return result;
}

describe('deploy/Dockerfile', () => {
  it('lints clean (and the linter does flag a broken Dockerfile)', () => {
    expect(validate(text)).toEqual([]);
    expect(validate('FROM debian\nCOPY --form=build a b\nENTRYPOINT ["node" "x"]\n').length).toBeGreaterThan(0);
  });

  it('builds on a current Node.js LTS (22 or 24; 20 is past its end of life), whose binary the runtime takes', () => {
    const nodeImage = instructions.find((instruction) => instruction.getKeyword() === 'ARG' && args(instruction)[0]!.startsWith('NODE_IMAGE='))!;
    expect(args(nodeImage)[0]).toMatch(/^NODE_IMAGE=node:(22|24)-[a-z]+-slim$/);
    // The runtime is the same Debian release as the build image: the node binary links against its glibc.
    const runtimeImage = instructions.find((instruction) => instruction.getKeyword() === 'ARG' && args(instruction)[0]!.startsWith('RUNTIME_IMAGE='))!;
    expect(args(runtimeImage)[0]!.split(':')[1]).toBe(`${args(nodeImage)[0]!.split('-')[1]}-slim`);
    expect(runtime.find((instruction) => instruction.getKeyword() === 'COPY' && instruction.getTextContent().includes('/usr/local/bin/node'))).toBeDefined();
  });

  it('builds in one stage and runs from a slim one with the kernel tools and no build tooling', () => {
    expect(stages).toHaveLength(2);
    const [build] = stages;
    expect(args(build![0]!)).toEqual(['${NODE_IMAGE}', 'AS', 'build']);
    expect(args(runtime[0]!)).toEqual(['${RUNTIME_IMAGE}']);
    const install = runtime.find((instruction) => instruction.getKeyword() === 'RUN')!.getArgumentsContent()!;
    for (const tool of ['nftables', 'iptables', 'ipset', 'ipvsadm', 'conntrack', 'iproute2']) expect(install).toMatch(new RegExp(`\\s${tool}(\\s|$)`));
    expect(install).toContain('--no-install-recommends');
    expect(install).toContain('rm -rf /var/lib/apt/lists/*');
    const runtimeText = runtime.map((instruction) => instruction.getTextContent()).join('\n');
    expect(runtimeText).not.toMatch(/npm|typescript|tsup|vitest/);
  });

  it('names only workspaces and paths that exist, and starts the CLI in exec form', () => {
    const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces
      .map((path) => (JSON.parse(readFileSync(join(ROOT, path, 'package.json'), 'utf8')) as { name: string }).name);
    const buildRuns = stages[0]!.filter((instruction) => instruction.getKeyword() === 'RUN').map((instruction) => instruction.getArgumentsContent()!);
    const named = [...buildRuns.join('\n').matchAll(/-w (\S+)/g)].map((match) => match[1]!);
    expect(named.length).toBeGreaterThan(0);
    for (const name of named) expect(workspaces).toContain(name);
    // The runtime tree is assembled from these package directories: each must be a workspace built above.
    const copied = /for package in ([^;]+);/.exec(buildRuns.join('\n'))![1]!.trim().split(/\s+/);
    for (const directory of copied) {
      const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', directory, 'package.json'), 'utf8')) as { name: string };
      expect(named).toContain(manifest.name);
    }
    for (const copy of runtime.filter((instruction) => instruction.getKeyword() === 'COPY')) expect(copy.getTextContent()).toContain('--from=build');
    const entrypoint = runtime.find((instruction) => instruction.getKeyword() === 'ENTRYPOINT')!;
    const command = JSON.parse(entrypoint.getArgumentsContent()!) as string[];
    expect(command[0]).toBe('/usr/local/bin/node');
    expect(command[1]).toBe('/opt/kplane/packages/core/bin/kplane.js');
    expect(existsSync(join(ROOT, 'packages/core/bin/kplane.js'))).toBe(true);
    expect(readFileSync(join(ROOT, 'deploy/Dockerfile.dockerignore'), 'utf8')).toMatch(/^\*\*\/node_modules$/m);
  });
});
