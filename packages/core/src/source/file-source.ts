import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { ManifestReader, type ManifestObject } from './manifests.js';
import type { Source, SourceEvent, SourceHandler } from './source.js';

const SETTLE_MS = 50;

/**
 * A YAML file of Services, EndpointSlices, Nodes and ServiceCIDRs, watched for edits. Each edit yields events for
 * exactly the objects that changed. A broken edit (bad YAML, file missing mid-rename) keeps the last
 * good state and says why; the next good edit is diffed against that state.
 */
export class FileSource implements Source {
  private objects = new Map<string, ManifestObject>();
  private readonly reader = new ManifestReader();
  private watcher: FSWatcher | null = null;
  private handler: SourceHandler = () => {};
  private reading: Promise<void> = Promise.resolve();
  private settleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly path: string, private readonly logger: Logger) {}

  async start(handler: SourceHandler): Promise<void> {
    this.handler = handler;
    const text = await readFile(this.path, 'utf8');
    // The first read must succeed: there is no last good state to keep yet.
    this.objects = this.reader.read(text);
    handler([...this.objects.values()].map((entry): SourceEvent => ({ action: 'upsert', kind: entry.kind, object: entry.object, origin: 'manifest' })));
    // chokidar follows the path across rename-replace (how editors and `kubectl ... > file` tools save).
    this.watcher = watch(this.path, { ignoreInitial: true, atomic: true });
    this.watcher.on('all', () => this.scheduleReload());
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }

  async stop(): Promise<void> {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    await this.watcher?.close();
    this.watcher = null;
    await this.reading;
  }

  /** Waits for the reload in progress, if any (for tests). */
  settled(): Promise<void> {
    return this.reading;
  }

  private scheduleReload(): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    // Writers often save in several steps: read once they stop.
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      this.reading = this.reading.then(() => this.reload());
    }, SETTLE_MS);
  }

  private async reload(): Promise<void> {
    let next: Map<string, ManifestObject>;
    try {
      next = this.reader.read(await readFile(this.path, 'utf8'));
    } catch (error) {
      this.logger.error({ file: this.path, err: error }, 'cannot read manifests; keeping the last good state');
      return;
    }
    const events: SourceEvent[] = [];
    for (const [key, entry] of next) {
      if (this.objects.get(key)?.fingerprint !== entry.fingerprint) events.push({ action: 'upsert', kind: entry.kind, object: entry.object, origin: 'manifest' });
    }
    for (const [key, entry] of this.objects) {
      if (!next.has(key)) events.push({ action: 'delete', kind: entry.kind, ref: entry.ref });
    }
    this.objects = next;
    if (events.length > 0) {
      this.logger.info({ file: this.path, changes: events.length }, 'manifests changed');
      this.handler(events);
    }
  }
}
