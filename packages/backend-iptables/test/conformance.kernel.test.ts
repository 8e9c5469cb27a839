import { describeConformance } from '@kplane/conformance';
import iptables from '../src/index.js';

// The kit in both iptables variants and both layouts (the flat layout is the baseline, and a real option).
for (const mode of ['nft', 'legacy'] as const) {
  for (const layout of ['tree', 'flat'] as const) {
    describeConformance({ name: `iptables ${layout} (${mode})`, backend: iptables, backendOptions: { mode, layout } });
  }
}
