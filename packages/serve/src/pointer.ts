/**
 * Which model to serve: `--model <dir>`, or the best trial of a sweep (`--sweep <id>`), or by
 * default the best trial of the latest sweep. Sweeps are found only through the pointer files the
 * sweep writes (this package does not import the tuning package):
 *   runs/trials/latest.json        { "sweep": "<id>" }
 *   runs/trials/<sweep>/best.json  { "trial": "<id>", "modelDir": "<dir>" }
 * A relative `modelDir` is resolved against the folder of best.json, then the workspace root.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '@mri-robust/core';

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

export function resolveServeModel(opts: { model?: string; sweep?: string; runsDir: string; root: string }): ServeModelChoice {
  if (opts.model && opts.sweep) throw new UserError('give either --model <dir> or --sweep <id>, not both');
  if (opts.model) return { modelDir: path.resolve(opts.model), source: `--model ${opts.model}` };
  const trialsDir = path.join(opts.runsDir, 'trials');
  let sweep: string;
  let source: string;
  if (opts.sweep) {
    sweep = sweepId(opts.sweep, '--sweep');
    source = `best trial of sweep ${sweep}`;
  } else {
    const latestFile = path.join(trialsDir, 'latest.json');
    const latest = readJson(latestFile, 'no sweep has run yet; run `nx run tuning:sweep` first, or pass --model <dir>');
    sweep = sweepId(latest.sweep, `${latestFile}: field 'sweep'`);
    source = `best trial of the latest sweep (${sweep})`;
  }
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
