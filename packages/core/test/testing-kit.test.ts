import { describe, expect, it } from 'vitest';
import { ContainerModule, TOKENS, ToolError } from '../src/index.js';
import { FakeExecutor, renderBatches, serviceObject, testProxy, upsert } from '../src/testing/index.js';
import { RecordingBackend } from './support/recording-backend.js';

const BATCH = { tool: 'nft', args: ['-f', '-'], input: 'add table ip t' };

describe('@kplane/core/testing', () => {
  it('FakeExecutor answers scripted reads, fails unscripted ones, and fails the batches it is told to', async () => {
    const executor = new FakeExecutor({ 'nft list tables': 'table ip t\n' });
    expect(await executor.read({ tool: 'nft', args: ['list', 'tables'] })).toBe('table ip t\n');
    await expect(executor.read({ tool: 'ip', args: ['link'] })).rejects.toBeInstanceOf(ToolError);
    expect(executor.reads).toEqual(['nft list tables', 'ip link']);

    executor.failNext((batch) => batch.tool === 'nft');
    await executor.apply({ tool: 'ip', args: ['-batch', '-'], input: 'link add x type dummy\n' });
    await expect(executor.apply(BATCH)).rejects.toThrow('nft failed (exit 1): injected failure');
    await executor.apply(BATCH);
    expect(executor.render()).toBe('# ip -batch -\nlink add x type dummy\n# nft -f -\nadd table ip t\n');
  });

  it('renderBatches prints batches as kplane plan does, one trailing newline each', () => {
    expect(renderBatches([BATCH, { ...BATCH, input: 'flush table ip t\n' }])).toBe('# nft -f -\nadd table ip t\n# nft -f -\nflush table ip t\n');
  });

  it('testProxy runs one sync per call and fails the test when a sync fails', async () => {
    const backend = new RecordingBackend();
    const proxy = testProxy(new ContainerModule(({ bind }) => void bind(TOKENS.Backend).toConstantValue(backend)));
    await proxy.start([upsert(serviceObject('web', { clusterIPs: ['10.96.0.1'], ports: [{ name: 'http', port: 80 }] }))]);
    expect(backend.syncs.map((sync) => [sync.full, sync.changed])).toEqual([[true, ['default/web:http/TCP']]]);
    backend.failNext = 1;
    await expect(proxy.sync([upsert(serviceObject('web', { clusterIPs: ['10.96.0.1'], ports: [{ name: 'http', port: 81 }] }))])).rejects.toThrow('the sync failed');
  });
});
