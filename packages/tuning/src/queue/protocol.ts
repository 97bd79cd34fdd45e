/**
 * What travels through Redis between the sweep orchestrator and the trial workers: the job (only the
 * experiment text and the trial's identity and parameters — no code, no paths of the orchestrator's
 * machine), the messages of a running trial, the job's result, and the Redis keys they use.
 * A worker checks every job against `trialJobSchema` and against its own code version before it runs
 * anything.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { codeHash, hashBytes, UserError, workspaceRoot } from '@mri-robust/core';
import type { EpochMessageRecord, TrialResultMessage } from '../messages.ts';

/** Version of the job and message format. */
export const JOB_FORMAT = 1;

const stageKeys = Type.Object(
  {
    ingest: Type.String({ pattern: '^[0-9a-f]{8,64}$' }),
    noise: Type.String({ pattern: '^[0-9a-f]{8,64}$' }),
    augment: Type.String({ pattern: '^[0-9a-f]{8,64}$' }),
    embed: Type.String({ pattern: '^[0-9a-f]{8,64}$' }),
  },
  { additionalProperties: false },
);

/** A trial job as the orchestrator enqueues it (BullMQ job data). */
const trialJobSchema = Type.Object(
  {
    v: Type.Literal(JOB_FORMAT),
    sweepId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,80}$' }),
    trialId: Type.String({ pattern: '^t[0-9]{3,}-[0-9a-f]{8}$' }),
    index: Type.Integer({ minimum: 0 }),
    params: Type.Object(
      {
        learningRate: Type.Number({ exclusiveMinimum: 0 }),
        dropout: Type.Number({ minimum: 0, exclusiveMaximum: 1 }),
        batchSize: Type.Integer({ minimum: 1 }),
      },
      { additionalProperties: false },
    ),
    seed: Type.Integer({ minimum: 0 }),
    experiment: Type.Object(
      {
        /** The experiment file's text, as the orchestrator validated it. */
        text: Type.String({ minLength: 1, maxLength: 1_000_000 }),
        /** Where the file is: relative to the workspace root (resolved in the worker's checkout) or absolute. */
        path: Type.String({ minLength: 1, maxLength: 4096 }),
        /** The sweep's experiment hash (plan.ts), checked again by the worker. */
        hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      },
      { additionalProperties: false },
    ),
    code: Type.Object(
      {
        /** core's codeHash('embed'): the code of every stage and of training. */
        stages: Type.String({ pattern: '^[0-9a-f]{16,64}$' }),
        /** Hash of packages/tuning/src (the trial runner and the queue). */
        tuning: Type.String({ pattern: '^[0-9a-f]{16,64}$' }),
        commit: Type.String({ maxLength: 80 }),
      },
      { additionalProperties: false },
    ),
    /** The orchestrator's stage keys: a worker reports whether its own outputs have the same. */
    stages: stageKeys,
  },
  { additionalProperties: false },
);
export type TrialJobData = Static<typeof trialJobSchema>;

/** Checks job data; a bad job is a one-line UserError naming the first bad field. */
export function validateJobData(jobId: string | undefined, data: unknown): TrialJobData {
  if (Value.Check(trialJobSchema, data)) return data;
  const first = Value.Errors(trialJobSchema, data).First();
  const where = first ? first.path || '/' : '/';
  const version = (data as { v?: unknown } | null)?.v;
  const hint = typeof version === 'number' && version !== JOB_FORMAT ? ` (job format ${version}, this worker reads ${JOB_FORMAT}: update one side)` : '';
  throw new UserError(`malformed job ${jobId ?? '(no id)'}: ${where}: ${first?.message ?? 'invalid'}${hint}`);
}

/** BullMQ job ids may not contain ':'; sweep and trial ids never contain '.'. */
export const jobIdOf = (sweepId: string, trialId: string): string => `${sweepId}.${trialId}`;

export interface CodeVersion {
  stages: string;
  tuning: string;
}

const tuningHashes = new Map<string, string>();

/** The code version this process runs (computed once per process and root, like core's code hashes). */
export function codeVersion(root = workspaceRoot()): CodeVersion {
  let tuningHash = tuningHashes.get(root);
  if (tuningHash === undefined) {
    const base = path.join(root, 'packages', 'tuning');
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of fs.readdirSync(d).sort()) {
        const f = path.join(d, n);
        if (fs.statSync(f).isDirectory()) walk(f);
        else files.push(f);
      }
    };
    walk(path.join(base, 'src'));
    tuningHash = hashBytes(
      [path.join(base, 'package.json'), ...files].map((f) => `${path.relative(base, f)}\0${hashBytes(fs.readFileSync(f))}`).join('\n'),
    ).slice(0, 16);
    tuningHashes.set(root, tuningHash);
  }
  return { stages: codeHash('embed', root), tuning: tuningHash };
}

/** The job's code version differs from this worker's: a one-line error, or null when they match. */
export function codeMismatch(jobId: string, job: TrialJobData['code'], mine: CodeVersion): string | null {
  const diff: string[] = [];
  if (job.stages !== mine.stages) diff.push(`stage code ${job.stages} (this worker: ${mine.stages})`);
  if (job.tuning !== mine.tuning) diff.push(`tuning code ${job.tuning} (this worker: ${mine.tuning})`);
  if (diff.length === 0) return null;
  return (
    `job ${jobId} comes from a different code version: ${diff.join(', ')}; ` +
    `check out commit ${job.commit.slice(0, 12) || '?'} (with the same local changes) on this worker or on the orchestrator; the job is left in the queue`
  );
}

// ---- messages ----

export interface WorkerInfo {
  /** host/pid */
  id: string;
  host: string;
  pid: number;
  /** The worker's runs folder (absolute, on its host). */
  runsDir: string;
  /** The list the worker takes model-copy requests from. */
  fetchKey: string;
}

type StageHow = 'hit' | 'built';

/** Per stage: what the worker did and whether its key equals the orchestrator's. */
export type StageReport = Record<'ingest' | 'noise' | 'augment' | 'embed', { key: string; how: StageHow; same: boolean }>;

/** Worker → orchestrator, on the sweep's inbox stream. */
export type InboxMessage =
  | {
      type: 'state';
      jobId: string;
      trialId: string;
      attempt: number;
      worker: WorkerInfo;
      stages: StageReport;
      /** Every epoch of this attempt so far; the last one waits for its decision (none at the start). */
      epochs: EpochMessageRecord[];
    }
  | { type: 'refused'; jobId: string; trialId: string; worker: WorkerInfo; reason: string }
  | { type: 'done'; jobId: string; trialId: string; attempt: number };

/** Orchestrator → the worker of one attempt, on its control list. */
export type ControlMessage = { type: 'decision'; epoch: number; action: 'continue' | 'stop' } | { type: 'resend' } | { type: 'abort'; reason: string };

/** A completed job's return value. */
export interface TrialJobResult {
  v: number;
  attempt: number;
  worker: WorkerInfo;
  stages: StageReport;
  /** modelDir is the worker's path. */
  result: TrialResultMessage;
  trialDir: string;
  logFile: string;
}

// ---- keys ----

export const keys = {
  inbox: (queue: string, sweepId: string) => `mri:${queue}:${sweepId}:inbox`,
  control: (queue: string, sweepId: string, trialId: string, attempt: number) => `mri:${queue}:${sweepId}:${trialId}:${attempt}:ctl`,
  fetch: (queue: string, fetchKey: string) => `mri:${queue}:fetch:${fetchKey}`,
  reply: (queue: string, requestId: string) => `mri:${queue}:reply:${requestId}`,
};

/** Control lists, inboxes and replies expire unless refreshed (a sweep that is never resumed leaves nothing behind). */
export const KEY_TTL_S = 7 * 24 * 3600;

export function hostName(): string {
  return os.hostname();
}
