import { describe, expect, it } from 'vitest';
import { vegaBundles } from '../src/assets.ts';
import { esc, jsonForScript, renderJson, scriptSafe } from '../src/html.ts';
import { trialsTable } from '../src/page.ts';
import type { SweepData, TrialInfo } from '../src/types.ts';

const HOSTILE = 'x </script><script>alert(1)</script> <!-- & "q" \'s\' \u2028\u2029';

describe('escaping', () => {
  it('escapes text for HTML', () => {
    expect(esc('<a href="x">&\'</a>')).toBe('&#60;a href=&#34;x&#34;&#62;&#38;&#39;&#60;/a&#62;');
    expect(esc(null)).toBe('');
  });
  it('JSON for <script> cannot close the element and round-trips', () => {
    const value = { s: HOSTILE, n: [1, 2.5], nested: { '</script>': true } };
    const out = jsonForScript(value);
    expect(out).not.toMatch(/<\/script/i);
    expect(out).not.toContain('<!--');
    expect(out).not.toContain('\u2028');
    expect(out).not.toContain('\u2029');
    expect(JSON.parse(out)).toEqual(value);
  });
  it('inlined bundles never contain </script', () => {
    expect(scriptSafe('var s = "</SCRIPT>";')).toBe('var s = "<\\/SCRIPT>";');
    const bundles = vegaBundles();
    expect(bundles.map((b) => b.name)).toEqual(['vega', 'vega-lite', 'vega-embed']);
    for (const b of bundles) {
      expect(b.js.length).toBeGreaterThan(10_000);
      expect(b.js).not.toMatch(/<\/script/i);
    }
  });
});

describe('renderJson', () => {
  it('renders objects as tables, escapes every string and truncates long lists', () => {
    const html = renderJson({ [HOSTILE]: HOSTILE, list: Array.from({ length: 100 }, (_, i) => i), rows: [{ a: 1, b: HOSTILE }] });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;/script&#62;');
    expect(html).toContain('… (100 in all)');
    expect(html).toContain('<th>a</th><th>b</th>');
  });
});

describe('trials table', () => {
  it('has one row per trial, escaped errors and numeric sort keys', () => {
    const t = (id: string, i: number, over: Partial<TrialInfo> = {}): TrialInfo => ({
      trialId: id,
      trialIndex: i,
      learningRate: 0.001,
      dropout: 0.2,
      batchSize: 16,
      status: 'finished',
      error: null,
      backend: 'cpu',
      seed: 1,
      bestEpoch: 2,
      objective: 0.8,
      startedAt: '2025-01-01T00:00:00.000Z',
      endedAt: '2025-01-01T00:00:30.000Z',
      gitCommit: null,
      ...over,
    });
    const data = {
      sweep: { objective: 'val_accuracy' },
      trials: [t('a', 0), t('b', 1, { status: 'failed', error: HOSTILE, objective: null })],
      epochs: [],
      evaluations: [],
      ranked: ['a'],
      bestConfusion: [],
    } as unknown as SweepData;
    const html = trialsTable(data);
    expect(html.match(/<tr class=/g)).toHaveLength(2);
    expect(html).not.toContain('<script>');
    expect(html).toContain('data-sort="30"');
    expect(html).toContain('data-type="num"');
  });
});
