import { describe, expect, it } from 'vitest';
import { kplane, toolShims } from './support/cli.js';

/** A tool call that would change the kernel: every write goes through a tool's stdin or a delete flag. */
const WRITE = /restore|^nft (-f|delete)|^ipvsadm -R|^ip -batch|^ipset (restore|destroy)| -D | -X /;

describe('kplane cleanup', () => {
  it('--dry-run reads the kernel, prints what it would remove and ends, changing nothing', async () => {
    // The shims answer every read with success and no output; before, the FORWARD rule's check then said "there" forever.
    const { env, calls } = toolShims();
    const result = await kplane(['cleanup', '--dry-run', '--log-level', 'warn'], env, 60_000);
    expect(result).toMatchObject({ code: 0, killed: false });
    expect(result.stdout).toMatch(/^# \S+/);
    expect(calls().length).toBeGreaterThan(0);
    expect(calls().filter((call) => WRITE.test(call))).toEqual([]);
  }, 90_000);

  it('skips a tool that is not installed, and cleans the rest', async () => {
    const { env, calls } = toolShims(['ipvsadm']);
    const result = await kplane(['cleanup', '--log-level', 'warn'], env, 60_000);
    expect(result).toMatchObject({ code: 0, killed: false });
    expect(result.stderr).toContain('ipvsadm is not installed');
    // The ipvs backend still removes what its other tools hold (kplane-ipvs0 here).
    expect(calls()).toContain('ip -batch -');
    expect(calls().some((call) => call.startsWith('nft '))).toBe(true);
  }, 90_000);
});
