import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGolden } from '@kplane/core/testing';

/** The golden plan is not just text that looks right: the kernel accepts it (SCTP rules included). */
describe('nft golden plan in the kernel', () => {
  const namespace = `kpn${randomBytes(3).toString('hex')}`;
  beforeAll(async () => {
    await execa('ip', ['netns', 'add', namespace]);
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'delete', namespace], { reject: false });
  });

  it('loads with nft -f in a fresh namespace', async () => {
    const golden = readGolden(new URL('./golden/full-sync.nft', import.meta.url));
    await execa('ip', ['netns', 'exec', namespace, 'nft', '-f', '-'], { input: golden });
    const listing = (await execa('ip', ['netns', 'exec', namespace, 'nft', 'list', 'table', 'ip', 'kplane'])).stdout;
    expect(listing).toContain('10.96.0.40 . sctp . 80 . 0 : 10.244.1.8 . 8080');
    expect(listing).toContain('chain nat-prerouting');
  });
});
