/**
 * Which model to serve: `--model <dir>`, or the best trial of a sweep (`--sweep <id>`), or by
 * default the best trial of the latest sweep. Sweeps are found only through the pointer files the
 * sweep writes (this package does not import the tuning package):
 *   runs/trials/latest.json        { "sweep": "<id>" }
 *   runs/trials/<sweep>/best.json  { "trial": "<id>", "modelDir": "<dir>" }
 * A relative `modelDir` is resolved against the folder of best.json, then the workspace root.
 * `--top K` (K ≥ 2): the K best finished trials by the sweep's objective, ranked as `tuning:best`
 * ranks them — read from the tracking database through its reader (read-only, or a snapshot while
 * a sweep holds the file), since the pointer files name only the best one; served as an ensemble.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '@mri-robust/core';
import { getSweep, openTrackingReader, rankedTrials, TRACKING_FILE } from '@mri-robust/tracking';

export interface ServeModelChoice {
  modelDir: string;
  /** How it was chosen, for the log line. */
  source: string;
  sweep?: string;
  trial?: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function readJson(file: string, hint: string): Record<string, unknown> {
  if (!existsSync(file)) throw new UserError(`${file} does not exist: ${hint}`);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${file}: expected a JSON object`);
  return v as Record<string, unknown>;
}

function sweepId(v: unknown, where: string): string {
  if (typeof v !== 'string' || !ID_RE.test(v)) throw new UserError(`${where}: sweep id ${JSON.stringify(v)} is not a valid id (letters, digits, . _ -)`);
  return v;
}

/** The sweep asked for (`--sweep`), else the latest one (runs/trials/latest.json). */
function chosenSweep(sweepFlag: string | undefined, runsDir: string): { sweep: string; latest: boolean } {
  if (sweepFlag) return { sweep: sweepId(sweepFlag, '--sweep'), latest: false };
  const latestFile = path.join(runsDir, 'trials', 'latest.json');
  const latest = readJson(latestFile, 'no sweep has run yet; run `nx run tuning:sweep` first, or pass --model <dir>');
  return { sweep: sweepId(latest.sweep, `${latestFile}: field 'sweep'`), latest: true };
}

export function resolveServeModel(opts: { model?: string; sweep?: string; runsDir: string; root: string }): ServeModelChoice {
  if (opts.model && opts.sweep) throw new UserError('give either --model <dir> or --sweep <id>, not both');
  if (opts.model) return { modelDir: path.resolve(opts.model), source: `--model ${opts.model}` };
  const trialsDir = path.join(opts.runsDir, 'trials');
  const { sweep, latest } = chosenSweep(opts.sweep, opts.runsDir);
  const source = latest ? `best trial of the latest sweep (${sweep})` : `best trial of sweep ${sweep}`;
  const bestFile = path.join(trialsDir, sweep, 'best.json');
  const best = readJson(bestFile, `sweep ${sweep} has no best trial (unknown sweep, or it has not finished a trial yet); pass --model <dir>`);
  if (typeof best.modelDir !== 'string' || best.modelDir.length === 0) throw new UserError(`${bestFile}: field 'modelDir' must be a non-empty string`);
  const trial = typeof best.trial === 'string' ? best.trial : undefined;
  const candidates = path.isAbsolute(best.modelDir)
    ? [best.modelDir]
    : [path.resolve(path.dirname(bestFile), best.modelDir), path.resolve(opts.root, best.modelDir)];
  const found = candidates.find((c) => existsSync(path.join(c, 'metadata.json')));
  if (!found) throw new UserError(`${bestFile}: modelDir ${best.modelDir} holds no saved model (looked in ${candidates.join(', ')})`);
  checkProvenance(found, sweep, trial, bestFile);
  return { modelDir: found, source, sweep, trial };
}

/**
 * A model saved by a sweep names its sweep and trial (metadata.json `provenance`); the pointer that
 * led to it must name the same ones, or the folder was swapped or copied from elsewhere.
 */
function checkProvenance(modelDir: string, sweep: string, trial: string | undefined, pointer: string): void {
  const file = path.join(modelDir, 'metadata.json');
  const meta = readJson(file, 'a saved model folder has metadata.json');
  const p = meta.provenance as { sweep?: unknown; trial?: unknown } | undefined;
  if (!p || typeof p !== 'object') return; // saved before provenance was recorded, or outside a sweep
  if (p.sweep !== sweep || (trial !== undefined && p.trial !== trial)) {
    throw new UserError(
      `${file}: this model was saved by sweep ${String(p.sweep)} trial ${String(p.trial)}, but ${pointer} points to sweep ${sweep} trial ${trial ?? '?'}: ` +
        'the model folder was swapped or copied from another trial; rerun the sweep to rewrite it, or pass --model <dir> to serve it anyway',
    );
  }
}

/** `--top` as given: an integer ≥ 1 (default 1). */
export function topOf(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--top ${value}: expected an integer ≥ 1 (the number of best trials to serve as an ensemble)`);
  return n;
}

/**
 * The `top` best finished trials of a sweep (`--sweep`, else the latest), best first, each folder
 * checked against its provenance like the pointer's; fewer finished trials with a saved model than
 * `top` is a one-line error saying how many there are.
 */
export async function resolveSweepTop(opts: { sweep?: string; top: number; runsDir: string }): Promise<ServeModelChoice[]> {
  const { sweep, latest } = chosenSweep(opts.sweep, opts.runsDir);
  const dbFile = path.join(opts.runsDir, TRACKING_FILE);
  if (!existsSync(dbFile)) throw new UserError(`${dbFile} does not exist: --top ranks the trials of a sweep recorded there; run \`nx run tuning:sweep\` first`);
  const t = await openTrackingReader(dbFile);
  let ranked: Awaited<ReturnType<typeof rankedTrials>>;
  let objective: string;
  try {
    const row = await getSweep(t, sweep);
    if (!row) throw new UserError(`${dbFile}: no sweep ${sweep}${latest ? ' (named by runs/trials/latest.json)' : ''}`);
    objective = `${row.direction === 'minimize' ? 'lowest' : 'highest'} ${row.objective}`;
    ranked = (await rankedTrials(t, sweep)).filter((r) => r.status === 'finished' && r.model_path);
  } finally {
    await t.close();
  }
  if (ranked.length < opts.top) {
    throw new UserError(
      `--top ${opts.top}: sweep ${sweep} has ${ranked.length} finished trial${ranked.length === 1 ? '' : 's'} with a saved model` +
        (ranked.length ? `; choose --top ${ranked.length} or fewer` : ''),
    );
  }
  return ranked.slice(0, opts.top).map((r, i) => {
    const modelDir = r.model_path as string;
    if (!existsSync(path.join(modelDir, 'metadata.json')))
      throw new UserError(`${dbFile}: trial ${r.trial_id} of sweep ${sweep}: ${modelDir} holds no saved model`);
    checkProvenance(modelDir, sweep, r.trial_id, dbFile);
    return { modelDir, source: `trial ${i + 1} of the ${opts.top} best of sweep ${sweep} (${objective})`, sweep, trial: r.trial_id };
  });
}
