import { describeConformance } from '@kplane/conformance';
import nft from '../src/index.js';

describeConformance({
  name: 'nft',
  backend: nft,
  // A restart builds the next generation of kplane's objects: same ruleset, another suffix.
  normalizeRuleset: (snapshot) => snapshot.replace(/-g\d+\b/g, '-g#'),
});
