/**
 * Runs a workspace CLI as a user does: a child process `node --import tsx <cli> ...args` in the
 * workspace root, never rejecting, so a test checks the exit code and the whole stdout and stderr.
 */
import path from 'node:path';
import { execa } from 'execa';
import { workspaceRoot } from '../paths.ts';

interface CliResult {
  /** undefined when the process was killed (a signal, or `timeout` ran out). */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

interface CliOptions {
  /** The workspace the CLI runs in (its cwd; default: this one). */
  root?: string;
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Milliseconds before the child is killed (default: none). */
  timeout?: number;
}

/** `cli`: a path, relative to `root` or absolute. */
export async function runCli(cli: string, args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const root = options.root ?? workspaceRoot();
  const r = await execa(process.execPath, ['--import', 'tsx', path.resolve(root, cli), ...args], {
    cwd: root,
    env: options.env,
    timeout: options.timeout,
    reject: false,
  });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** The sweep CLI (`tuning:sweep`) on `experimentFile`, `args` after it (e.g. `--queue=local`). */
export function runSweepCli(experimentFile: string, options: CliOptions & { args?: readonly string[] } = {}): Promise<CliResult> {
  return runCli('packages/tuning/src/cli.ts', ['sweep', `--experiment=${experimentFile}`, ...(options.args ?? [])], options);
}
