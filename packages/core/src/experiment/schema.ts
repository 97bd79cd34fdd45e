import { type SchemaOptions, type Static, type TObject, type TSchema, type TUnsafe, Type } from '@sinclair/typebox';

/** A JSON Schema object (kept loose: ajv validates the schema itself). */
export type JSONSchema = Record<string, unknown>;

/** One problem found by a part's cross-field check; the pointer is relative to the section (`/split`). */
export interface SectionIssue {
  pointer: string;
  message: string;
}

/** One section of the experiment file, owned by one package. */
export interface SchemaPart {
  section: ExperimentSection;
  schema: JSONSchema;
  /**
   * Checks across fields that JSON Schema cannot express (fractions summing to 1, low < high), run
   * on the section (defaults filled in) once it is valid; pointers are relative to the section
   * (`/split`), and each problem is reported at its line like a schema error.
   */
  check?(section: unknown): SectionIssue[];
}

/** A schema part whose schema is a TypeBox object: the section's settings type is `Static<S>`. */
export interface TypedSchemaPart<S extends TObject = TObject> extends SchemaPart {
  schema: S;
}

/** Every section name an experiment may have; a section's schema comes from its owning package. */
const EXPERIMENT_SECTIONS = ['data', 'augment', 'noise', 'model', 'train', 'evaluate', 'sweep', 'report'] as const;
export type ExperimentSection = (typeof EXPERIMENT_SECTIONS)[number];

// --- TypeBox helpers -------------------------------------------------------------------------------
// A field with a default is written as a required property: ajv (useDefaults) fills defaults before it
// checks `required`, so a validated section has every such field and `Static<>` is exactly its type.

/** A string that is one of `values` (JSON Schema `enum`: errors read "must be one of: …"). */
export function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** An integer that is one of `values` (JSON Schema `enum`). */
export function IntegerEnum<const T extends readonly number[]>(values: T, options: SchemaOptions = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'integer', enum: [...values], ...options });
}

/** `[a, b]`: an array of exactly two `item`s, typed as a pair. */
export function Pair<T extends TSchema>(item: T, options: SchemaOptions = {}): TUnsafe<[Static<T>, Static<T>]> {
  return Type.Unsafe<[Static<T>, Static<T>]>({ type: 'array', items: item, minItems: 2, maxItems: 2, ...options });
}

/** A part for `section` whose settings type is `Static<typeof schema>`; `check` sees that type. */
export function schemaPart<S extends TObject>(section: ExperimentSection, schema: S, check?: (settings: Static<S>) => SectionIssue[]): TypedSchemaPart<S> {
  return check ? { section, schema, check: (s) => check(s as Static<S>) } : { section, schema };
}

// --- the top level ----------------------------------------------------------------------------------

/** The keys every experiment has beside its sections. */
const experimentBaseSchema = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9._-]+$', description: 'experiment name: letters, digits, ".", "_" or "-"' }),
  description: Type.Optional(Type.String({ description: 'free text' })),
  seed: Type.Integer({ minimum: 0, default: 0, description: 'base seed of every random choice (integer ≥ 0)' }),
  runs: Type.Optional(Type.String({ description: 'output folder, relative to the experiment file (default: <workspace>/runs)' })),
});

/** A validated experiment config: the base keys typed; each section is typed by its owner's accessor. */
export type ExperimentConfig = Static<typeof experimentBaseSchema> & { [section: string]: unknown };

/**
 * The top-level schema with the given parts plugged in. Sections whose part is not given are only
 * checked to be objects (the stage that owns them validates them fully); `tuning:sweep` passes all.
 */
export function composeExperimentSchema(parts: readonly SchemaPart[]): JSONSchema {
  const properties: Record<string, JSONSchema> = { ...experimentBaseSchema.properties };
  const seen = new Set<string>();
  for (const part of parts) {
    if (seen.has(part.section)) throw new Error(`schema part for section "${part.section}" given twice`);
    seen.add(part.section);
  }
  for (const section of EXPERIMENT_SECTIONS) {
    const part = parts.find((p) => p.section === section);
    properties[section] = part ? { default: {}, ...part.schema } : { type: 'object' };
  }
  return {
    type: 'object',
    additionalProperties: false,
    required: experimentBaseSchema.required,
    properties,
  };
}
