import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { ManifestReader, type ManifestChanges, type ManifestObject } from './manifests.js';
import type { Source, SourceEvent, SourceHandler } from './source.js';

const SETTLE_MS = 50;
/** A failed read (EMFILE, EACCES...) is tried again, at growing intervals: no later edit may come to trigger it. */
const RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

export type ReadText = (path: string) => Promise<string>;

/**
 * A YAML file of Services, EndpointSlices, Nodes and ServiceCIDRs, watched for edits. Each edit yields events for
 * exactly the objects that changed. A broken edit (bad YAML, file missing mid-rename) keeps the last
 * good state and says why; the next good edit is diffed against that state. An empty file is a
 * moment of a write (a truncating writer, an editor), never "no objects": a file that means to
 * hold nothing says so with a comment or an empty List.
 */
export class FileSource implements Source {
  /** Holds the last good state (fingerprints only): each read yields what changed since. */
  private readonly reader = new ManifestReader();
  private watcher: FSWatcher | null = null;
  private handler: SourceHandler = () => {};
  private reading: Promise<void> = Promise.resolve();
  private settleTimer: NodeJS.Timeout | null = null;
  private failedReads = 0;

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
    private readonly readText: ReadText = (file) => readFile(file, 'utf8'),
  ) {}

  async start(handler: SourceHandler): Promise<void> {
    this.handler = handler;
    const text = await this.readText(this.path);
    // The first read must succeed: there is no last good state to keep yet.
    handler(this.reader.update(text).upserts.map(upsertEvent));
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

  /** Writers often save in several steps: read once they stop. */
  private scheduleReload(delayMs = SETTLE_MS): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    if (!this.watcher) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      this.reading = this.reading.then(() => this.reload());
    }, delayMs);
  }

  private async reload(): Promise<void> {
    let text: string;
    try {
      text = await this.readText(this.path);
    } catch (error) {
      const retryMs = Math.min(RETRY_MS * 2 ** this.failedReads++, MAX_RETRY_MS);
      this.logger.error({ file: this.path, err: error, retryMs }, 'cannot read manifests; keeping the last good state and trying again');
      this.scheduleReload(retryMs);
      return;
    }
    this.failedReads = 0;
    if (text.trim() === '') {
      this.logger.warn({ file: this.path }, 'manifest file is empty (a write in progress?); keeping the last good state');
      return;
    }
    let changes: ManifestChanges;
    try {
      changes = this.reader.update(text);
    } catch (error) {
      this.logger.error({ file: this.path, err: error }, 'cannot read manifests; keeping the last good state');
      return;
    }
    const events: SourceEvent[] = [
      ...changes.upserts.map(upsertEvent),
      ...changes.deletes.map(({ kind, ref }): SourceEvent => ({ action: 'delete', kind, ref })),
    ];
    if (events.length > 0) {
      this.logger.info({ file: this.path, changes: events.length }, 'manifests changed');
      this.handler(events);
    }
  }
}

function upsertEvent({ kind, object }: ManifestObject): SourceEvent {
  return { action: 'upsert', kind, object, origin: 'manifest' };
}
