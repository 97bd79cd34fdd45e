import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const CLI = path.join(import.meta.dirname, '..', 'src', 'cli.ts');

describe('data CLI flags', () => {
  it('rejects a misspelt flag with one line naming the allowed flags, before doing any work', async () => {
    const r = await execa(process.execPath, ['--import', 'tsx', CLI, 'ingest', '--experimnt=experiments/default.yaml'], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('error: unknown option --experimnt; allowed: --experiment, --nx-output');
    expect(r.stdout).toBe('');
  });

  it('rejects a switch given a value and a value flag given none', async () => {
    const bad = await execa(process.execPath, ['--import', 'tsx', CLI, 'ingest', '--nx-output=yes'], { reject: false });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toBe('error: --nx-output: takes no value; allowed: --experiment, --nx-output');
    const empty = await execa(process.execPath, ['--import', 'tsx', CLI, 'ingest', '--experiment'], { reject: false });
    expect(empty.exitCode).toBe(1);
    expect(empty.stderr).toMatch(/^error: --experiment: needs a value; allowed: /);
  });
});
