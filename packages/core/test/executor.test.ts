import { describe, expect, it } from 'vitest';
import { ExecaExecutor, ToolError } from '../src/index.js';

const complain = ['-e', 'process.stderr.write("line 2: Service already exists\\n")'];

describe('ExecaExecutor', () => {
  it('fails a batch whose tool exits 0 but reports errors on stderr, when the batch says so', async () => {
    const executor = new ExecaExecutor();
    await expect(executor.apply({ tool: process.execPath, args: complain, input: '' })).resolves.toBeUndefined();
    await expect(executor.apply({ tool: process.execPath, args: complain, input: '', failOnStderr: true })).rejects.toThrow(ToolError);
  });
});
