// Preloaded into the measured agent (with --expose-gc): on SIGUSR2, collect garbage and log memoryUsage() on stderr.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  process.stderr.write(`${JSON.stringify({ msg: 'memory', ...process.memoryUsage() })}\n`);
});
