/**
 * CLI of the serve package (Nx target serve:start):
 *   start [--model DIR[,DIR...] | --sweep ID] [--port N]   predict page + POST /predict (several DIRs: an ensemble)
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runMain, UserError } from '@mri-robust/core';
import { SERVE_USAGE, serveMain } from './run.ts';

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === 'start') return serveMain(rest);
  throw new UserError(`${cmd ? `unknown subcommand '${cmd}'` : 'no subcommand'}\nusage: cli.ts ${SERVE_USAGE}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) runMain(() => main(process.argv.slice(2)));
