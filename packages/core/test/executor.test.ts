import { describe, expect, it } from 'vitest';
import { ToolTimeoutError } from '../src/backend/executor.js';
import { DryRunExecutor, ExecaExecutor, ToolError } from '../src/index.js';

const complain = ['-e', 'process.stderr.write("line 2: Service already exists\\n")'];

describe('ExecaExecutor', () => {
  it('fails a batch whose tool exits 0 but reports errors on stderr, when the batch says so', async () => {
    const executor = new ExecaExecutor();
    await expect(executor.apply({ tool: process.execPath, args: complain, input: '' })).resolves.toBeUndefined();
    await expect(executor.apply({ tool: process.execPath, args: complain, input: '', failOnStderr: true })).rejects.toThrow(ToolError);
  });

  it('names the batch a tool refused by its command, size and first lines, never its whole input', async () => {
    const input = `add table ip kplane\n${'add element ip kplane ips { 10.96.0.1 }\n'.repeat(250_000)}`;
    const refuse = ['-e', 'process.stdin.resume(); process.stdin.on("end", () => { process.stderr.write("Error: syntax error\\n"); process.exit(1); })'];
    const error = await new ExecaExecutor().apply({ tool: process.execPath, args: refuse, input }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ToolError);
    const fields = (error as ToolError).logFields();
    expect(fields).toMatchObject({ tool: process.execPath, exitCode: 1, stderr: 'Error: syntax error' });
    expect(fields.batch).toEqual({
      command: [process.execPath, ...refuse].join(' '),
      bytes: input.length,
      lines: 250_001,
      head: ['add table ip kplane', 'add element ip kplane ips { 10.96.0.1 }', 'add element ip kplane ips { 10.96.0.1 }'],
    });
    expect(JSON.stringify(fields).length).toBeLessThan(1000);
  });

  it('kills a tool that runs past the timeout, with what it started, and says so', async () => {
    // The shell's child keeps the tool's stdout open: killing only the shell would leave the run waiting 30 s.
    const hang = { tool: 'sh', args: ['-c', 'echo "waiting for the lock" >&2; sleep 30'], input: 'add table ip kplane\n' };
    const startedAt = Date.now();
    const error = await new ExecaExecutor({ timeoutMs: 300 }).apply(hang).catch((caught: unknown) => caught);
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect(error).toBeInstanceOf(ToolTimeoutError);
    expect((error as ToolError).message).toBe('sh failed: timed out after 0.3 s and was killed; stderr so far: waiting for the lock');
    expect((error as ToolError).batch).toMatchObject({ command: 'sh -c echo "waiting for the lock" >&2; sleep 30', lines: 1 });
    await expect(new ExecaExecutor({ timeoutMs: 300 }).read({ tool: 'sleep', args: ['30'] })).rejects.toThrow('sleep failed: timed out after 0.3 s and was killed');
  });
});

describe('DryRunExecutor', () => {
  it('records batches and, given a real executor, reads the real state without writing anything', async () => {
    const executor = new DryRunExecutor(new ExecaExecutor());
    expect(executor.live).toBe(true);
    expect(await executor.read({ tool: process.execPath, args: ['-e', 'process.stdout.write("listed")'] })).toBe('listed');
    await executor.apply({ tool: process.execPath, args: ['-e', 'process.exit(3)'], input: 'x' });
    expect(executor.render()).toBe(`# ${process.execPath} -e process.exit(3)\nx\n`);
    expect(new DryRunExecutor().live).toBe(false);
  });
});
