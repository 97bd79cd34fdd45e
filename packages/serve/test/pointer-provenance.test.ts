/**
 * The model a pointer leads to must be the one its sweep saved there: metadata.json `provenance`
 * (sweep, trial) is checked against best.json. Folders swapped between trials are refused with one
 * line naming the file; a relative modelDir (as the sweep writes it) resolves inside a moved runs folder.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveServeModel } from '../src/pointer.ts';

const root = mkdtempSync(path.join(tmpdir(), 'serve-provenance-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function layout(runsDir: string): void {
  const sweep = 's-1';
  for (const trial of ['t000-a', 't001-b']) {
    const dir = path.join(runsDir, 'trials', sweep, trial, 'model');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ classes: ['a', 'b'], provenance: { sweep, trial, experimentHash: 'h' } }));
  }
  writeFileSync(path.join(runsDir, 'trials', 'latest.json'), JSON.stringify({ sweep }));
  writeFileSync(path.join(runsDir, 'trials', sweep, 'best.json'), JSON.stringify({ sweep, trial: 't001-b', modelDir: 't001-b/model' }));
}

describe('serve: model provenance against the pointer', () => {
  it('serves the pointed model from a moved runs folder and refuses a swapped one', () => {
    const runs = path.join(root, 'runs');
    layout(runs);
    const moved = path.join(root, 'elsewhere');
    renameSync(runs, moved);
    const choice = resolveServeModel({ runsDir: moved, root });
    expect(choice).toMatchObject({ modelDir: path.join(moved, 'trials', 's-1', 't001-b', 'model'), sweep: 's-1', trial: 't001-b' });

    const a = path.join(moved, 'trials', 's-1', 't000-a', 'model');
    const b = path.join(moved, 'trials', 's-1', 't001-b', 'model');
    renameSync(a, `${a}.x`);
    renameSync(b, a);
    renameSync(`${a}.x`, b);
    let err: Error | null = null;
    try {
      resolveServeModel({ runsDir: moved, root });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.name).toBe('UserError');
    expect(err?.message.split('\n')).toHaveLength(1);
    expect(err?.message).toContain(path.join(b, 'metadata.json'));
    expect(err?.message).toMatch(/saved by sweep s-1 trial t000-a, but .*best\.json points to sweep s-1 trial t001-b/);
  });
});
