import packageJson from '../package.json' with { type: 'json' };

/** kplane's version, as its package says (the build inlines it). */
export const VERSION: string = packageJson.version;
