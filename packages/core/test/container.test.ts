import { describe, expect, it } from 'vitest';
import { ContainerModule, DEFAULT_CONFIG, DryRunExecutor, TOKENS, createLogger, createProxy, injectable, type Endpoint, type ServicePortKey } from '../src/index.js';
import { FakeClock } from '../src/testing/index.js';
import { web, webEndpoints } from './support/engine-harness.js';
import { RecordingBackend } from './support/recording-backend.js';

const KEY = 'default/web:http/TCP';
const PINNED: Endpoint = { ip: '10.9.9.9', family: 4, port: 8080, ready: false, serving: true, terminating: true, nodeName: null, zone: null, hintZones: null, hintNodes: null };

/** A plugin's own drain policy: every service port it has seen keeps one pinned endpoint draining. */
@injectable()
class PinnedDrains {
  readonly updated: ServicePortKey[] = [];

  update(key: ServicePortKey): void {
    this.updated.push(key);
  }

  draining(key: ServicePortKey): readonly Endpoint[] {
    return this.updated.includes(key) ? [PINNED] : [];
  }

  get count(): number {
    return 0;
  }

  async finish(): Promise<Set<ServicePortKey>> {
    return new Set();
  }
}

function start(module: ContainerModule) {
  const clock = new FakeClock();
  const proxy = createProxy({ config: { ...DEFAULT_CONFIG, nodeName: 'node-a' }, executor: new DryRunExecutor(), logger: createLogger('silent'), clock }, module);
  proxy.engine.handle([web(), webEndpoints(['10.1.0.1'])]);
  proxy.engine.start();
  return clock.advance(0);
}

describe('the container is the composition root', () => {
  it('lets a plugin module rebind a collaborator: the engine and the state it hands the backend use the plugin\'s drain scheduler', async () => {
    const backend = new RecordingBackend();
    let drains: PinnedDrains | undefined;
    await start(new ContainerModule(({ bind, rebind }) => {
      bind(TOKENS.Backend).toConstantValue(backend);
      rebind<PinnedDrains>(TOKENS.DrainScheduler).to(PinnedDrains).onActivation((_, scheduler) => (drains = scheduler));
    }));
    expect(drains?.updated).toEqual([KEY]);
    expect(backend.syncs).toHaveLength(1);
    expect(backend.syncs[0]!.draining).toEqual({ [KEY]: ['10.9.9.9:8080'] });
  });

  it('uses core\'s own collaborators when the module binds only the backend', async () => {
    const backend = new RecordingBackend();
    await start(new ContainerModule(({ bind }) => void bind(TOKENS.Backend).toConstantValue(backend)));
    expect(backend.syncs[0]!.draining).toEqual({});
  });

  it('refuses a module that binds no backend', () => {
    expect(() => createProxy({ config: DEFAULT_CONFIG, executor: new DryRunExecutor(), logger: createLogger('silent') }, new ContainerModule(() => {})))
      .toThrow('the backend module binds nothing to TOKENS.Backend');
  });
});
