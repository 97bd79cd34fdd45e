/**
 * At the end of a queue-mode sweep, the best trial's model folder is copied from the worker that
 * trained it into the orchestrator's runs/trials/<sweep>/<trial>/ (where its tracking row points),
 * so the report and the predict server work on the orchestrator alone. Copied once: remote.json
 * records the manifest hash. A worker that is gone is a warning, not a failure of the sweep.
 */
import fs from 'node:fs';
import path from 'node:path';
import { connectRedis } from './connect.ts';
import { REMOTE_FILE, type RemoteRecord } from './orchestrator.ts';
import { fetchFolder } from './transfer.ts';
import type { QueueConfig } from './url.ts';

export interface CopyBestOptions {
  config: QueueConfig;
  /** The best trial's folder on the orchestrator. */
  trialDir: string;
  log: (line: string) => void;
  /** Seconds to wait for the worker (default 60). */
  timeoutS?: number;
}

/** Returns where the model is now, or null when it was not copied (ran here, or the worker is gone). */
export async function copyBestModel(o: CopyBestOptions): Promise<string | null> {
  const file = path.join(o.trialDir, REMOTE_FILE);
  if (!fs.existsSync(file)) return null;
  const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as RemoteRecord;
  const dest = path.join(o.trialDir, path.relative(rec.trialDir, rec.modelDir));
  const trialId = path.basename(o.trialDir);
  if (rec.copied && fs.existsSync(path.join(dest, 'metadata.json'))) return dest;
  const who = `worker ${rec.worker.id}`;
  const redis = connectRedis(o.config, o.log, 'queue');
  const blocking = connectRedis(o.config, () => undefined, 'queue (copy)');
  try {
    const t0 = performance.now();
    const r = await fetchFolder({
      redis,
      blocking,
      queue: o.config.name,
      fetchKey: rec.worker.fetchKey,
      requestId: `${path.basename(path.dirname(o.trialDir))}.${trialId}.${process.pid}.${Date.now()}`,
      dir: rec.modelDir,
      dest,
      timeoutS: o.timeoutS ?? 60,
      who,
    });
    rec.copied = { ...r, at: new Date().toISOString() };
    fs.writeFileSync(file, `${JSON.stringify(rec, null, 2)}\n`);
    o.log(
      `queue: best trial ${trialId}: model copied from ${who} (${r.files} files, ${(r.bytes / 2 ** 20).toFixed(2)} MiB, ` +
        `hashes checked, ${((performance.now() - t0) / 1000).toFixed(1)} s) to ${path.relative(process.cwd(), dest)}`,
    );
    return dest;
  } catch (e) {
    o.log(
      `queue: warning: best trial ${trialId}: model not copied (${(e as Error).message.split('\n')[0]}); it stays at ` +
        `${rec.worker.host}:${rec.modelDir}; start a worker there with --runs=${rec.worker.runsDir} and run the sweep again to copy it`,
    );
    return null;
  } finally {
    redis.disconnect();
    blocking.disconnect();
  }
}
