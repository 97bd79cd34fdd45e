import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { hashObject } from '../hash.ts';
import { workspaceRoot, resolveFrom } from '../paths.ts';
import type { Static, TObject } from '@sinclair/typebox';
import { composeExperimentSchema, type ExperimentConfig, type SchemaPart, type TypedSchemaPart } from './schema.ts';

export interface ExperimentIssue {
  file: string;
  line: number;
  column: number;
  /** JSON pointer of the bad value ("" for the whole document). */
  pointer: string;
  message: string;
}

/** Everything wrong with an experiment file, each issue with file:line:column and pointer. */
export class ExperimentError extends Error {
  override readonly name = 'ExperimentError';
  constructor(readonly issues: ExperimentIssue[]) {
    super(formatIssues(issues));
  }
}

function formatIssues(issues: readonly ExperimentIssue[]): string {
  return issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.pointer || '(document)'}: ${i.message}`).join('\n');
}

export interface Experiment {
  /** Absolute path of the YAML file. */
  file: string;
  /** The file's folder: relative paths in the experiment are resolved against it. */
  dir: string;
  text: string;
  /** Hash of the validated config (defaults filled in). */
  hash: string;
  name: string;
  seed: number;
  /** Absolute output folder. */
  runsDir: string;
  /** The validated config, defaults filled in. */
  config: ExperimentConfig;
}

/**
 * The typed accessor of a part's section, exported by the part's owner
 * (`export const dataSettingsOf = sectionOf(dataSchemaPart)`). The section is as the loader left it:
 * validated, defaults filled in, when the experiment was loaded with this part (`{}` when absent).
 */
export function sectionOf<S extends TObject>(part: TypedSchemaPart<S>): (experiment: Pick<Experiment, 'config'>) => Static<S> {
  return (experiment) => (experiment.config[part.section] ?? {}) as Static<S>;
}

/** Resolves a path written in the experiment (relative to the experiment file). */
export function experimentPath(experiment: Experiment, p: string): string {
  return resolveFrom(experiment.file, p);
}

function decodePointerSegment(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function pointerSegments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map(decodePointerSegment);
}

/** The YAML node at a JSON pointer, or the deepest existing ancestor. */
function nodeAt(doc: Document, segments: string[]): { node: Node | null; depth: number } {
  let node = doc.contents as Node | null;
  let depth = 0;
  for (const seg of segments) {
    let next: Node | null = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => {
        const k = p.key as unknown;
        const kv = k && typeof k === 'object' && 'value' in (k as object) ? (k as { value: unknown }).value : k;
        return String(kv) === seg;
      });
      next = (pair?.value as Node | null) ?? null;
    } else if (isSeq(node)) {
      next = (node.items[Number(seg)] as Node | null) ?? null;
    }
    if (!next) break;
    node = next;
    depth++;
  }
  return { node, depth };
}

/** The key node of `key` inside the map at `segments` (for unknown-key errors). */
function keyNodeAt(doc: Document, segments: string[], key: string): Node | null {
  const { node, depth } = nodeAt(doc, segments);
  if (depth !== segments.length || !isMap(node)) return null;
  const pair = node.items.find((p) => {
    const k = p.key as { value?: unknown } | null;
    return k && String(k.value ?? k) === key;
  });
  return (pair?.key as Node | null) ?? null;
}

function describe(schema: unknown): string {
  const d = (schema as { description?: unknown } | null)?.description;
  return typeof d === 'string' ? ` (${d})` : '';
}

function messageFor(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
      return `unknown key "${String(p.additionalProperty)}"; allowed keys: ${allowed.join(', ') || '(none)'}`;
    }
    case 'enum':
      return `must be one of: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${describe(e.parentSchema)}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}${describe(e.parentSchema)}`;
    case 'required':
      return `missing required key "${String(p.missingProperty)}"`;
    default:
      return `${e.message ?? 'is invalid'}${describe(e.parentSchema)}`;
  }
}

/** Keeps the most specific errors: alternatives (anyOf/oneOf) report at the deepest pointer reached. */
function selectErrors(errors: ErrorObject[]): ErrorObject[] {
  const pointerOf = (e: ErrorObject) => (e.keyword === 'additionalProperties' || e.keyword === 'required' ? `${e.instancePath}/\u0000` : e.instancePath);
  const pointers = errors.map(pointerOf);
  const kept = errors.filter((e, i) => {
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if') return false;
    const ptr = pointers[i];
    if (e.keyword === 'additionalProperties' || e.keyword === 'required') return true;
    return !pointers.some((other, j) => j !== i && other.startsWith(`${ptr}/`));
  });
  // Merge "must be X" type errors at one pointer into "must be X or Y".
  const out: ErrorObject[] = [];
  const seen = new Map<string, ErrorObject>();
  for (const e of kept) {
    const k = `${e.instancePath}|${e.keyword}|${e.keyword === 'type' ? '' : JSON.stringify(e.params)}`;
    const prev = seen.get(k);
    if (prev && e.keyword === 'type') {
      prev.message = `${prev.message} or ${String((e.params as { type: string }).type)}`;
      continue;
    }
    if (prev) continue;
    const copy = { ...e };
    seen.set(k, copy);
    out.push(copy);
  }
  return out.length > 0 ? out : errors.slice(0, 1);
}

const ajvCache = new Map<string, ReturnType<Ajv['compile']>>();

function validatorFor(parts: readonly SchemaPart[]) {
  const schema = composeExperimentSchema(parts);
  const id = hashObject(schema);
  let validate = ajvCache.get(id);
  if (!validate) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, allowUnionTypes: true });
    validate = ajv.compile(schema);
    ajvCache.set(id, validate);
  }
  return validate;
}

/** Parses and validates YAML text; `file` is used for messages and relative paths. */
export function parseExperiment(text: string, file: string, parts: readonly SchemaPart[]): Experiment {
  const abs = path.resolve(file);
  const shown = path.relative(process.cwd(), abs) || abs;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ExperimentError(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        const message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        return { file: shown, line: pos.line, column: pos.col, pointer: '', message: `YAML: ${message}` };
      }),
    );
  }
  let config: ExperimentConfig;
  try {
    // yaml refuses documents whose aliases expand past maxAliasCount ("billion laughs").
    config = (doc.toJS({ maxAliasCount: 1000 }) ?? {}) as ExperimentConfig;
  } catch (e) {
    let first: Node | null = null;
    visit(doc, {
      Alias(_, node) {
        first = node;
        return visit.BREAK;
      },
    });
    const pos = lineCounter.linePos((first as Node | null)?.range?.[0] ?? 0);
    const why = e instanceof ReferenceError ? 'too many alias expansions (*name references); an alias bomb?' : (e as Error).message;
    throw new ExperimentError([{ file: shown, line: pos.line, column: pos.col, pointer: '', message: `YAML: ${why}` }]);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ExperimentError([{ file: shown, line: 1, column: 1, pointer: '', message: 'must be a mapping of keys to values' }]);
  }
  const validate = validatorFor(parts);
  if (!validate(config)) {
    const issues = selectErrors(validate.errors ?? []).map((e): ExperimentIssue => {
      const segments = pointerSegments(e.instancePath);
      let node: Node | null = null;
      let pointer = e.instancePath;
      if (e.keyword === 'additionalProperties') {
        const key = String((e.params as { additionalProperty: string }).additionalProperty);
        node = keyNodeAt(doc, segments, key);
        pointer = `${e.instancePath}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      }
      if (!node) node = nodeAt(doc, segments).node;
      const offset = node?.range?.[0] ?? 0;
      const pos = lineCounter.linePos(offset);
      return { file: shown, line: pos.line, column: pos.col, pointer, message: messageFor(e) };
    });
    issues.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ExperimentError(issues);
  }
  const crossIssues: ExperimentIssue[] = [];
  for (const part of parts) {
    for (const c of part.check?.(config[part.section]) ?? []) {
      const pointer = `/${part.section}${c.pointer}`;
      const pos = lineCounter.linePos(nodeAt(doc, pointerSegments(pointer)).node?.range?.[0] ?? 0);
      crossIssues.push({ file: shown, line: pos.line, column: pos.col, pointer, message: c.message });
    }
  }
  if (crossIssues.length > 0) throw new ExperimentError(crossIssues.sort((a, b) => a.line - b.line || a.column - b.column));
  const runsDir = config.runs ? resolveFrom(abs, config.runs) : path.join(workspaceRoot(), 'runs');
  return {
    file: abs,
    dir: path.dirname(abs),
    text,
    hash: hashObject(config),
    name: config.name,
    seed: config.seed,
    runsDir,
    config,
  };
}

/** Reads, parses and validates an experiment file against the top-level schema plus `parts`. */
export function loadExperiment(file: string, parts: readonly SchemaPart[]): Experiment {
  const abs = path.resolve(file);
  if (!existsSync(abs)) {
    throw new ExperimentError([{ file, line: 0, column: 0, pointer: '', message: 'experiment file does not exist' }]);
  }
  return parseExperiment(readFileSync(abs, 'utf8'), abs, parts);
}

/** The default experiment of the quick start. */
export function defaultExperimentFile(): string {
  return path.join(workspaceRoot(), 'experiments', 'default.yaml');
}
