/**
 * The declared pipeline (src/pipeline.ts) against what runs it: the Nx targets, the package graph,
 * and the code hashes in the stage keys (a real child-process run in a temp copy of the workspace).
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { codeHash, workspaceRoot } from '../src/index.ts';
import { downstreamOf, PIPELINE, type StageName, stageChain } from '../src/pipeline.ts';

const root = workspaceRoot();
const packagesDir = path.join(root, 'packages');
const packages = readdirSync(packagesDir).filter((p) => {
  try {
    readFileSync(path.join(packagesDir, p, 'package.json'));
    return true;
  } catch {
    return false;
  }
});

interface ProjectJson {
  name: string;
  targets: Record<string, { dependsOn?: { projects?: string[]; target: string }[]; options?: { command?: string } }>;
}
const projects = new Map<string, ProjectJson>(
  packages.map((p) => {
    const pj = JSON.parse(readFileSync(path.join(packagesDir, p, 'project.json'), 'utf8')) as ProjectJson;
    return [pj.name, pj];
  }),
);
const workspaceDeps = (pkg: string): string[] => {
  const json = JSON.parse(readFileSync(path.join(packagesDir, pkg, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return Object.keys(json.dependencies ?? {})
    .filter((d) => d.startsWith('@mri-robust/'))
    .map((d) => d.slice('@mri-robust/'.length));
};

describe('the declared pipeline', () => {
  it('every stage has its Nx target, whose dependsOn is exactly the transitive reduction of the declared upstream', () => {
    for (const s of PIPELINE) {
      const [project, target] = s.nxTarget.split(':');
      const t = projects.get(project)?.targets[target];
      expect(t, `${s.nxTarget} missing`).toBeDefined();
      expect(t?.options?.command, s.nxTarget).toContain(`packages/${s.package}/src/`);
      // Upstream stages not reachable through another upstream stage.
      const direct = s.upstream.filter((u) => !s.upstream.some((v) => v !== u && stageChain(v).some((c) => c.name === u)));
      const expected = direct.map((u) => PIPELINE.find((p) => p.name === u)!.nxTarget).sort();
      const declared = (t?.dependsOn ?? []).flatMap((d) => (d.projects ?? []).map((p) => `${p}:${d.target}`)).sort();
      expect(declared, `${s.nxTarget} dependsOn`).toEqual(expected);
    }
  });

  it('stage chains and downstream sets follow the declaration', () => {
    expect(stageChain('embed').map((s) => s.name)).toEqual(['ingest', 'noise', 'augment', 'embed']);
    expect(stageChain('noise').map((s) => s.name)).toEqual(['ingest', 'noise']);
    expect(downstreamOf('noise')).toEqual(['augment', 'embed']);
    expect(downstreamOf('embed')).toEqual([]);
  });
});

describe('packages follow the DAG', () => {
  it('the workspace dependencies form no cycle', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (p: string, trail: string[]): void => {
      if (state.get(p) === 'done') return;
      if (state.get(p) === 'visiting') throw new Error(`cycle: ${[...trail, p].join(' → ')}`);
      state.set(p, 'visiting');
      for (const d of workspaceDeps(p)) visit(d, [...trail, p]);
      state.set(p, 'done');
    };
    for (const p of packages) visit(p, []);
  });

  it('no source, test or bench file imports a workspace package its package.json does not depend on (so none above it)', () => {
    const bad: string[] = [];
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
      );
    for (const p of packages) {
      const allowed = new Set([p, ...workspaceDeps(p)]);
      for (const sub of ['src', 'test', 'bench']) {
        let files: string[] = [];
        try {
          files = walk(path.join(packagesDir, p, sub));
        } catch {
          continue;
        }
        for (const f of files) {
          const text = readFileSync(f, 'utf8');
          for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]@mri-robust\/([a-z-]+)/g)) {
            if (!allowed.has(m[1])) bad.push(`${path.relative(root, f)} imports @mri-robust/${m[1]}`);
          }
          for (const m of text.matchAll(/['"]\.\.\/\.\.\/([a-z-]+)\/(?:src|test|bench)\//g)) {
            if (!allowed.has(m[1])) bad.push(`${path.relative(root, f)} reaches into packages/${m[1]}`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('every pipeline stage is owned by a package that depends on the owners of its upstream stages', () => {
    const closure = (p: string): Set<string> => {
      const out = new Set<string>([p]);
      for (const d of workspaceDeps(p)) for (const x of closure(d)) out.add(x);
      return out;
    };
    for (const s of PIPELINE) {
      const mine = closure(s.package);
      for (const u of s.upstream) expect(mine.has(PIPELINE.find((x) => x.name === u)!.package), `${s.name} ← ${u}`).toBe(true);
    }
  });
});

describe('stage keys include the code', () => {
  let tmp = '';
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** A runnable copy of the workspace: packages copied, node_modules entries linked (ours to the copy). */
  function copyWorkspace(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'pipeline-code-'));
    for (const f of ['nx.json', 'package.json', 'tsconfig.base.json', 'tsconfig.json']) cpSync(path.join(root, f), path.join(dir, f));
    for (const p of packages) {
      for (const sub of ['src', 'package.json']) cpSync(path.join(packagesDir, p, sub), path.join(dir, 'packages', p, sub), { recursive: true });
    }
    const nm = path.join(dir, 'node_modules');
    mkdirSync(path.join(nm, '@mri-robust'), { recursive: true });
    for (const e of readdirSync(path.join(root, 'node_modules'))) {
      if (e === '@mri-robust') continue;
      symlinkSync(path.join(root, 'node_modules', e), path.join(nm, e));
    }
    for (const p of packages) symlinkSync(path.join(dir, 'packages', p), path.join(nm, '@mri-robust', p));
    return dir;
  }

  it('a noise-model source edit changes the code hash of noise and everything downstream, never of ingest', () => {
    tmp = copyWorkspace();
    const stages: StageName[] = ['ingest', 'noise', 'augment', 'embed'];
    const before = Object.fromEntries(stages.map((s) => [s, codeHash(s, tmp)]));
    expect(before).toEqual(Object.fromEntries(stages.map((s) => [s, codeHash(s, root)])));
    appendFileSync(path.join(tmp, 'packages/noise/src/models/kspace.ts'), '\n// edited\n');
    // codeHash memoises per (root, package): a second copy sees the edit.
    const edited = copyWorkspace();
    try {
      appendFileSync(path.join(edited, 'packages/noise/src/models/kspace.ts'), '\n// edited\n');
      const after = Object.fromEntries(stages.map((s) => [s, codeHash(s, edited)]));
      expect(after.ingest).toBe(before.ingest);
      for (const s of ['noise', 'augment', 'embed'] as const) expect(after[s], s).not.toBe(before[s]);
    } finally {
      rmSync(edited, { recursive: true, force: true });
    }
  });

  it('a real run after the edit rebuilds noise and augment and hits ingest (child processes in a workspace copy)', async () => {
    const ws = copyWorkspace();
    try {
      const exp = path.join(ws, 'e.yaml');
      writeFileSync(
        exp,
        `name: code-hash\nseed: 7\nruns: ./runs\ndata:\n  sources: [{name: ph, kind: phantom, count_per_class: 6, size: 40}]\n  image: {size: 32, channels: 1}\n  min_per_class: 1\nnoise:\n  train: {fraction: 0.5, kinds: [{kind: kspace_motion, severity: 2}]}\n  eval: {kinds: [{kind: rician, snr: [5]}]}\naugment: {copies: 1}\n`,
      );
      const run = async () => {
        const r = await execa(process.execPath, ['--import', 'tsx', 'packages/augment/src/cli.ts', 'apply', `--experiment=${exp}`, '--workers=0'], {
          cwd: ws,
          all: true,
        });
        const out = r.all ?? '';
        const state = (s: string) =>
          new RegExp(`\\[${s}\\] cache hit`).test(out) ? 'hit' : new RegExp(`\\[${s}\\] building`).test(out) ? 'built' : `? ${out}`;
        return { ingest: state('ingest'), noise: state('noise'), augment: state('augment') };
      };
      expect(await run()).toEqual({ ingest: 'built', noise: 'built', augment: 'built' });
      expect(await run()).toEqual({ ingest: 'hit', noise: 'hit', augment: 'hit' });
      appendFileSync(path.join(ws, 'packages/noise/src/models/kspace.ts'), '\n// a code change\n');
      expect(await run()).toEqual({ ingest: 'hit', noise: 'built', augment: 'built' });
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  });
});
