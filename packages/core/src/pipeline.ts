/**
 * The pipeline, declared once. Every cached stage is listed here with its owning package, its
 * upstream stages and the experiment sections it reads; the stage CLIs, the sweep's stage check and
 * the Nx targets (checked by packages/core/test/pipeline.test.ts) all follow this list.
 *
 * Each stage's cache key includes `codeHash(stage)`: a hash of the source files of the owning package
 * and of every workspace package it depends on (read from the package.json files), so a code change
 * rebuilds exactly the stages whose code it touches — no version constant to bump (DVC hashes a
 * stage's command and code dependencies the same way).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { hashBytes } from './hash.ts';
import { workspaceRoot } from './paths.ts';
import type { Experiment } from './experiment/load.ts';

export type StageName = 'ingest' | 'noise' | 'augment' | 'embed';

export interface StageDecl {
  name: StageName;
  /** Folder under packages/ of the package that owns the stage. */
  package: string;
  /** Stages whose outputs this one reads. */
  upstream: readonly StageName[];
  /** Experiment sections the stage reads (besides the top-level seed). */
  sections: readonly string[];
  /** The Nx target that runs the stage (project:target). */
  nxTarget: string;
}

export const PIPELINE: readonly StageDecl[] = [
  { name: 'ingest', package: 'data', upstream: [], sections: ['data'], nxTarget: 'data:ingest' },
  { name: 'noise', package: 'noise', upstream: ['ingest'], sections: ['noise'], nxTarget: 'noise:apply' },
  { name: 'augment', package: 'augment', upstream: ['noise'], sections: ['augment'], nxTarget: 'augment:apply' },
  { name: 'embed', package: 'model', upstream: ['augment', 'noise'], sections: ['model'], nxTarget: 'model:embed' },
];

function stageDecl(name: StageName): StageDecl {
  const d = PIPELINE.find((s) => s.name === name);
  if (!d) throw new Error(`unknown stage ${name}`);
  return d;
}

/** The stages `target` needs, itself included, in an order where every stage follows its upstream. */
export function stageChain(target: StageName): StageDecl[] {
  const need = new Set<StageName>();
  const visit = (n: StageName): void => {
    if (need.has(n)) return;
    need.add(n);
    for (const u of stageDecl(n).upstream) visit(u);
  };
  visit(target);
  return PIPELINE.filter((s) => need.has(s.name));
}

/** Every stage downstream of `name` (not itself), in pipeline order. */
export function downstreamOf(name: StageName): StageName[] {
  const out = new Set<StageName>();
  for (const s of PIPELINE) if (s.upstream.some((u) => u === name || out.has(u))) out.add(s.name);
  return PIPELINE.filter((s) => out.has(s.name)).map((s) => s.name);
}

// --- code hashes ---

const WORKSPACE_SCOPE = '@mri-robust/';

/** Workspace packages (folder names) `pkg` depends on, itself included, transitively. */
function packageClosure(pkg: string, root = workspaceRoot()): string[] {
  const seen = new Set<string>();
  const visit = (p: string): void => {
    if (seen.has(p)) return;
    seen.add(p);
    const json = JSON.parse(readFileSync(path.join(root, 'packages', p, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(json.dependencies ?? {})) if (dep.startsWith(WORKSPACE_SCOPE)) visit(dep.slice(WORKSPACE_SCOPE.length));
  };
  visit(pkg);
  return [...seen].sort();
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    const st = statSync(full);
    if (st.isDirectory()) out.push(...listFiles(full));
    else if (st.isFile()) out.push(full);
  }
  return out;
}

const packageHashes = new Map<string, string>();

/** sha256 over the relative paths and bytes of every file under packages/<pkg>/src and its package.json. */
function packageSourceHash(pkg: string, root = workspaceRoot()): string {
  const cacheKey = `${root}\0${pkg}`;
  const hit = packageHashes.get(cacheKey);
  if (hit) return hit;
  const base = path.join(root, 'packages', pkg);
  const parts: string[] = [];
  for (const f of [path.join(base, 'package.json'), ...listFiles(path.join(base, 'src'))]) {
    parts.push(`${path.relative(base, f)}\0${hashBytes(readFileSync(f))}`);
  }
  const h = hashBytes(parts.join('\n'));
  packageHashes.set(cacheKey, h);
  return h;
}

/** Hash of the code a stage runs: its package's sources and those of every package it imports. */
export function codeHash(stage: StageName, root = workspaceRoot()): string {
  const pkgs = packageClosure(stageDecl(stage).package, root);
  return hashBytes(pkgs.map((p) => `${p}:${packageSourceHash(p, root)}`).join('\n')).slice(0, 16);
}

// --- running a chain of stages ---

export interface StageOutputRef {
  key: string;
  dir: string;
  hit: boolean;
}

export interface PipelineContext {
  log?: (line: string) => void;
}

/** How a package runs its stage, given the outputs of the stages it declares upstream. */
export type StageRunner = (experiment: Experiment, upstream: Partial<Record<StageName, StageOutputRef>>, ctx: PipelineContext) => Promise<StageOutputRef>;

/**
 * Ensures `target` and every stage it needs, in pipeline order (each a cache hit when unchanged).
 * The caller — the package at the top, which may import the packages below it — passes the runners.
 */
export async function ensurePipeline(
  experiment: Experiment,
  target: StageName,
  runners: Partial<Record<StageName, StageRunner>>,
  ctx: PipelineContext = {},
): Promise<Partial<Record<StageName, StageOutputRef>>> {
  const out: Partial<Record<StageName, StageOutputRef>> = {};
  for (const s of stageChain(target)) {
    const run = runners[s.name];
    if (!run) throw new Error(`pipeline: no runner given for stage ${s.name} (needed by ${target})`);
    const upstream: Partial<Record<StageName, StageOutputRef>> = {};
    for (const u of s.upstream) upstream[u] = out[u];
    const res = await run(experiment, upstream, ctx);
    out[s.name] = { key: res.key, dir: res.dir, hit: res.hit };
  }
  return out;
}
