/** A JSON Schema object (kept loose: ajv validates the schema itself). */
export type JSONSchema = Record<string, unknown>;

/** One section of the experiment file, owned by one package. */
export interface SchemaPart {
  section: ExperimentSection;
  schema: JSONSchema;
  /**
   * Checks across fields that JSON Schema cannot express (fractions summing to 1, low < high), run
   * on the section (defaults filled in) once it is valid; pointers are relative to the section
   * (`/split`), and each problem is reported at its line like a schema error.
   */
  check?(section: unknown): { pointer: string; message: string }[];
}

/** Every section name an experiment may have; a section's schema comes from its owning package. */
export const EXPERIMENT_SECTIONS = ['data', 'augment', 'noise', 'model', 'train', 'evaluate', 'sweep', 'report'] as const;
export type ExperimentSection = (typeof EXPERIMENT_SECTIONS)[number];

/**
 * The top-level schema with the given parts plugged in. Sections whose part is not given are only
 * checked to be objects (the stage that owns them validates them fully); `tuning:sweep` passes all.
 */
export function composeExperimentSchema(parts: readonly SchemaPart[]): JSONSchema {
  const properties: Record<string, JSONSchema> = {
    name: {
      type: 'string',
      pattern: '^[A-Za-z0-9._-]+$',
      description: 'experiment name: letters, digits, ".", "_" or "-"',
    },
    description: { type: 'string', description: 'free text' },
    seed: { type: 'integer', minimum: 0, default: 0, description: 'base seed of every random choice (integer ≥ 0)' },
    runs: { type: 'string', description: 'output folder, relative to the experiment file (default: <workspace>/runs)' },
  };
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
    required: ['name'],
    properties,
  };
}
