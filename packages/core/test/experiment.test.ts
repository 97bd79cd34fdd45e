import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentError, loadExperiment, parseExperiment, type SchemaPart } from '../src/index.ts';

const sweepPart: SchemaPart = {
  section: 'sweep',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      strategy: { enum: ['grid', 'random'], default: 'grid', description: 'search strategy' },
      space: {
        type: 'object',
        additionalProperties: false,
        properties: {
          learning_rate: {
            anyOf: [
              { type: 'array', minItems: 1, items: { type: 'number', exclusiveMinimum: 0 } },
              {
                type: 'object',
                additionalProperties: false,
                required: ['log_uniform'],
                properties: { log_uniform: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 } } },
              },
            ],
          },
        },
      },
      max_parallel: { type: 'integer', minimum: 1, default: 2 },
    },
  },
};

function issuesOf(text: string, parts: SchemaPart[] = [sweepPart]) {
  try {
    parseExperiment(text, 'experiments/x.yaml', parts);
  } catch (e) {
    expect(e).toBeInstanceOf(ExperimentError);
    return (e as ExperimentError).issues;
  }
  throw new Error('expected an ExperimentError');
}

describe('experiment loading', () => {
  it('fills defaults and hashes the validated config', () => {
    const exp = parseExperiment('name: a\nseed: 3\nsweep:\n  strategy: random\n', 'x.yaml', [sweepPart]);
    expect(exp.seed).toBe(3);
    expect(exp.config.sweep).toEqual({ strategy: 'random', max_parallel: 2 });
    const same = parseExperiment('seed: 3\nname: a\nsweep: {strategy: random, max_parallel: 2}\n', 'x.yaml', [sweepPart]);
    expect(same.hash).toBe(exp.hash);
  });

  it('names file, line, column and pointer of an unknown key, and lists the allowed keys', () => {
    const issues = issuesOf('name: a\nsweep:\n  strategy: grid\n  stratgy: random\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'experiments/x.yaml', line: 4, column: 3, pointer: '/sweep/stratgy' });
    expect(issues[0].message).toContain('unknown key "stratgy"');
    expect(issues[0].message).toContain('strategy, space, max_parallel');
  });

  it('rejects an unknown top-level section', () => {
    const issues = issuesOf('name: a\nsweeps: {}\n');
    expect(issues[0]).toMatchObject({ line: 2, column: 1, pointer: '/sweeps' });
  });

  it('points into lists and says what is allowed', () => {
    const issues = issuesOf('name: a\nsweep:\n  strategy: grdi\n  space:\n    learning_rate: [0.1, -0.01]\n');
    const byPtr = Object.fromEntries(issues.map((i) => [i.pointer, i]));
    expect(byPtr['/sweep/strategy']).toMatchObject({ line: 3, column: 13 });
    expect(byPtr['/sweep/strategy'].message).toContain('"grid", "random"');
    expect(byPtr['/sweep/space/learning_rate/1']).toMatchObject({ line: 5, column: 26 });
    expect(byPtr['/sweep/space/learning_rate/1'].message).toContain('must be > 0');
  });

  it('reports a wrong type and a missing required key', () => {
    const issues = issuesOf('sweep:\n  max_parallel: two\n');
    expect(issues.map((i) => i.pointer).sort()).toEqual(['', '/sweep/max_parallel']);
    const maxPar = issues.find((i) => i.pointer === '/sweep/max_parallel')!;
    expect(maxPar).toMatchObject({ line: 2, column: 17 });
    expect(maxPar.message).toContain('must be integer');
    expect(issues.find((i) => i.pointer === '')!.message).toContain('missing required key "name"');
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    expect(issuesOf('name: a\nsweep: [1, 2\n')[0].message).toMatch(/^YAML/);
    const dup = issuesOf('name: a\nname: b\n');
    expect(dup[0]).toMatchObject({ line: 2 });
  });

  it('checks sections without a part only to be objects', () => {
    expect(() => parseExperiment('name: a\nmodel: {anything: 1}\n', 'x.yaml', [])).not.toThrow();
    const issues = issuesOf('name: a\nmodel: 3\n', []);
    expect(issues[0]).toMatchObject({ pointer: '/model', line: 2 });
  });

  it('loads from disk and resolves the runs folder against the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'exp-'));
    const file = path.join(dir, 'e.yaml');
    writeFileSync(file, 'name: e\nruns: out\n');
    const exp = loadExperiment(file, []);
    expect(exp.runsDir).toBe(path.join(dir, 'out'));
    expect(() => loadExperiment(path.join(dir, 'missing.yaml'), [])).toThrow(/does not exist/);
  });
});
