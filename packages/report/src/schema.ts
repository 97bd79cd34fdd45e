/** The `report` section of an experiment: its schema (TypeBox, owned by this package) and, derived from it, its type. */
import { schemaPart } from '@mri-robust/core';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const reportSchema = Type.Object(
  {
    /** How many of the best trials the robustness curve shows. */
    best_trials: Type.Integer({
      minimum: 1,
      maximum: 20,
      default: 3,
      description: 'how many of the best trials the robustness curve shows (integer 1..20)',
    }),
  },
  { additionalProperties: false, description: 'options of the HTML report (report:build)' },
);

/** The `report` section, defaults filled in. */
export type ReportSettings = Static<typeof reportSchema>;

export const reportSchemaPart = schemaPart('report', reportSchema);

/**
 * The section's typed accessor: the report settings of an experiment's config (`experiment.config`),
 * defaults filled in (a copy), also when the config was loaded without this part.
 */
export function reportSettings(config: Record<string, unknown> | null | undefined): ReportSettings {
  const r = config?.report;
  return Value.Default(reportSchema, structuredClone(r !== null && typeof r === 'object' ? r : {})) as ReportSettings;
}

/** Every default of the section (what an experiment without it gets). */
export const REPORT_DEFAULTS: ReportSettings = reportSettings({});
