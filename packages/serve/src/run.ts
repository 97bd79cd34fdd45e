/**
 * `nx run serve:start [--model <dir>[,<dir>...] | --sweep <id> [--top K]] [--port N] [--host 127.0.0.1]
 *   [--max-upload-mb 10] [--max-pixels 40000000] [--queue 8] [--workers N] [--cam grad-cam]`: loads
 * the model (several folders, or a sweep's K best trials: an ensemble answering with the mean of
 * their calibrated probabilities), starts the server and runs until SIGINT/SIGTERM.
 *
 * Throughput: `--workers` predictions are in progress at once (default: one per core, at most 4),
 * each forward pass on cores / workers ONNX Runtime threads (so 1 by default: spinning intra-op
 * threads would only contend). onnxruntime-node runs a pass on the JavaScript thread, so what the
 * workers overlap is the rest of an answer — decoding, resizing and PNG deflating on the thread
 * pool — with one another's forward passes. The default map is Grad-CAM, computed in the same ONNX
 * Runtime pass as the probabilities for GAP → Dense heads; `--cam layer-cam` adds a TensorFlow.js
 * gradient pass per answer (a finer 14×14 map at MobileNetV2's block_12_add, several times slower).
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs, stringFlag, UserError, workspaceRoot } from '@mri-robust/core';
import { camMethodOf, parseModelList, selectBackend, type BackendPreference } from '@mri-robust/model';
import { launcherChain, watchLaunchers } from './launcher.ts';
import { resolveServeModel, resolveSweepTop, topOf } from './pointer.ts';
import { DEFAULT_MAX_PIXELS, loadPredictHandler } from './predictor.ts';
import { DEFAULT_MAX_UPLOAD_BYTES, startServer } from './server.ts';

export interface ServeArgs {
  model?: string;
  sweep?: string;
  /** With --sweep (or the latest sweep): serve the ensemble of its K best finished trials (default 1: the best alone). */
  top?: string;
  runs?: string;
  port?: string;
  host?: string;
  maxUploadMb?: string;
  maxPixels?: string;
  queue?: string;
  backend?: string;
  /** Comma-separated host names answered besides the bound ones (e.g. a name in /etc/hosts). */
  allowHost?: string;
  /** Class-activation map of each answer: grad-cam (default; in the ONNX Runtime pass) or layer-cam (finer, a tfjs gradient pass). */
  cam?: string;
  /** Predictions run at once (default: the cores, at most 4). */
  workers?: string;
}

/** Most predictions run at once by default: more would only queue inside the process. */
const MAX_DEFAULT_WORKERS = 4;

function num(v: string | undefined, flag: string, def: number, { min = 0, integer = true } = {}): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
    throw new UserError(`--${flag} ${v}: expected ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
  return n;
}

/** Starts the server; resolves once it is listening, with a function that stops it. */
export async function runServe(args: ServeArgs): Promise<{ url: string; close: () => Promise<void> }> {
  const root = workspaceRoot();
  const runsDir = path.resolve(root, args.runs ?? 'runs');
  const port = num(args.port, 'port', 8080, { min: 0 });
  if (port > 65535) throw new UserError(`--port ${port}: expected 0..65535`);
  const maxUploadBytes = Math.round(num(args.maxUploadMb, 'max-upload-mb', DEFAULT_MAX_UPLOAD_BYTES / 1048576, { min: 0.001, integer: false }) * 1048576);
  const maxPixels = num(args.maxPixels, 'max-pixels', DEFAULT_MAX_PIXELS, { min: 1 });
  const queueLimit = num(args.queue, 'queue', 8, { min: 0 });
  const cores = Math.max(1, os.availableParallelism());
  const workers = num(args.workers, 'workers', Math.min(cores, MAX_DEFAULT_WORKERS), { min: 1 });
  const threads = Math.max(1, Math.floor(cores / workers));
  const method = camMethodOf(args.cam);
  const top = topOf(args.top);
  if (top > 1 && args.model) throw new UserError(`--top ${top} ranks the trials of a sweep: give --sweep <id> (or neither, for the latest sweep), not --model`);
  // `--model A,B,C`: an ensemble of those folders (mean of their calibrated probabilities); `--top K`: a sweep's K best trials.
  const listed = args.model ? parseModelList(args.model) : [];
  const ranked = top > 1 ? await resolveSweepTop({ sweep: args.sweep, top, runsDir }) : null;
  const choice = ranked ? ranked[0] : resolveServeModel({ model: listed[0], sweep: args.sweep, runsDir, root });
  const dirs = ranked ? ranked.map((c) => c.modelDir) : listed.length > 1 ? listed.map((d) => path.resolve(d)) : [choice.modelDir];
  const backend = await selectBackend((args.backend as BackendPreference | undefined) ?? 'auto');
  const handler = await loadPredictHandler(dirs, { maxPixels, method, threads });
  const log = (line: string) => process.stderr.write(`[serve] ${line}\n`);
  const host = args.host ?? '127.0.0.1';
  const allowHosts = (args.allowHost ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  let running: Awaited<ReturnType<typeof startServer>>;
  try {
    running = await startServer(handler, { host, port, maxUploadBytes, queueLimit, workers, log, allowHosts });
  } catch (e) {
    handler.dispose();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UserError(`--port ${port}: ${host}:${port} is already in use (another server?); choose another port with --port`);
    if (code === 'EACCES')
      throw new UserError(`--port ${port}: not allowed to listen on ${host}:${port} (ports below 1024 need privileges); choose another with --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UserError(`--host ${host}: not an address of this machine`);
    throw e;
  }
  if (ranked) log(`ensemble of ${dirs.length} models (${choice.source.replace(/^trial 1 of the /, '')}): ${dirs.join(', ')}, backend ${backend.name}`);
  else if (dirs.length > 1) log(`ensemble of ${dirs.length} models (--model ${args.model}): ${dirs.join(', ')}, backend ${backend.name}`);
  else log(`model ${choice.modelDir} (${choice.source}${choice.trial ? `, trial ${choice.trial}` : ''}), backend ${backend.name}`);
  log(`${method} maps; ${workers} prediction(s) at once, ${threads} ONNX Runtime thread(s) each`);
  log(`listening on ${running.url}  (GET / page, POST /predict; upload limit ${maxUploadBytes} bytes, pixel limit ${maxPixels})`);
  return {
    url: running.url,
    close: async () => {
      await running.close();
      handler.dispose();
    },
  };
}

/** CLI entry (`cli.ts serve ...`): starts the server and keeps it up until SIGINT/SIGTERM. */
export async function serveMain(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  const known = ['model', 'sweep', 'top', 'runs', 'port', 'host', 'maxUploadMb', 'maxPixels', 'queue', 'workers', 'backend', 'allowHost', 'cam'];
  const unknown = Object.keys(a).filter((k) => k !== '_' && !known.includes(k));
  if (unknown.length) throw new UserError(`serve: unknown option(s) ${unknown.map((k) => `--${k}`).join(', ')}\n${SERVE_USAGE}`);
  const args: ServeArgs = {};
  for (const k of known) {
    const v = stringFlag(a, k);
    if (v !== undefined) (args as Record<string, string>)[k] = v;
  }
  const running = await runServe(args);
  // Last-resort nets: every request is already handled in its own try/catch; should anything escape
  // (a stray rejection, a socket error without listener), log it and keep serving.
  process.on('unhandledRejection', (e) => process.stderr.write(`[serve] unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`));
  process.on('uncaughtException', (e) => process.stderr.write(`[serve] uncaught exception: ${e.stack ?? e.message}\n`));
  // The pid and URL, on stdout (the line a user or a script looks for); stopping it by that pid, by
  // Ctrl-C, or by ending the npx/nx command it was started with (launcher.ts) closes it cleanly.
  const launchers = launcherChain();
  process.stdout.write(`serving ${running.url} (pid ${process.pid}; stop with Ctrl-C or kill ${process.pid})\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      unwatch();
      process.stderr.write(`[serve] ${why}: stopping\n`);
      running.close().then(resolve, resolve);
    };
    const unwatch = watchLaunchers(
      launchers.map((l) => l.pid),
      (pid) => stop(`launcher ${pid} (${launchers.find((l) => l.pid === pid)?.command.slice(0, 60) ?? '?'}) exited`),
    );
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

export const SERVE_USAGE = `start [--model DIR[,DIR...] | --sweep ID [--top K]] [--port 8080] [--host 127.0.0.1] [--max-upload-mb 10] [--max-pixels 40000000] [--queue 8] [--workers N] [--runs runs] [--backend auto] [--allow-host NAME[,NAME]] [--cam grad-cam|layer-cam]`;
