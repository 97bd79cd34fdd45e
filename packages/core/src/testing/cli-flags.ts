/**
 * The strict-flag checks every stage CLI shares (parseFlags): a misspelt flag, a switch given a value
 * and a value flag given none each exit 1 with one line naming the allowed flags, before any work.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-run.ts';

export function describeStrictCliFlags(name: string, cli: string, command: string, allowed: string): void {
  const run = (flag: string) => runCli(cli, [command, flag]);
  describe(`${name} CLI flags`, () => {
    it('rejects a misspelt flag with one line naming the allowed flags, before doing any work', async () => {
      const r = await run('--experimnt=experiments/default.yaml');
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe(`error: unknown option --experimnt; allowed: ${allowed}`);
      expect(r.stdout).toBe('');
    });

    it('rejects a switch given a value and a value flag given none', async () => {
      const bad = await run('--nx-output=yes');
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toBe(`error: --nx-output: takes no value; allowed: ${allowed}`);
      const empty = await run('--experiment');
      expect(empty.exitCode).toBe(1);
      expect(empty.stderr).toMatch(/^error: --experiment: needs a value; allowed: /);
    });
  });
}
