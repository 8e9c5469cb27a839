#!/usr/bin/env node
// The CLI lives in the built package (`npm ci` builds it through the root `prepare` script).
await import('../dist/cli/main.js');
