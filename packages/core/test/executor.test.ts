import { describe, expect, it } from 'vitest';
import { DryRunExecutor, ExecaExecutor, ToolError } from '../src/index.js';

const complain = ['-e', 'process.stderr.write("line 2: Service already exists\\n")'];

describe('ExecaExecutor', () => {
  it('fails a batch whose tool exits 0 but reports errors on stderr, when the batch says so', async () => {
    const executor = new ExecaExecutor();
    await expect(executor.apply({ tool: process.execPath, args: complain, input: '' })).resolves.toBeUndefined();
    await expect(executor.apply({ tool: process.execPath, args: complain, input: '', failOnStderr: true })).rejects.toThrow(ToolError);
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
