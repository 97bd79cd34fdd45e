/** The `report` section of an experiment file. */
import type { SchemaPart } from '@mri-robust/core';

export interface ReportSettings {
  /** How many of the best trials the robustness curve shows. */
  best_trials: number;
}

export const REPORT_DEFAULTS: ReportSettings = { best_trials: 3 };

export const reportSchemaPart: SchemaPart = {
  section: 'report',
  schema: {
    type: 'object',
    additionalProperties: false,
    description: 'options of the HTML report (report:build)',
    properties: {
      best_trials: {
        type: 'integer',
        minimum: 1,
        maximum: 20,
        default: REPORT_DEFAULTS.best_trials,
        description: 'how many of the best trials the robustness curve shows (integer 1..20)',
      },
    },
  },
};

/** The report settings of a validated experiment config (defaults filled in). */
export function reportSettings(config: Record<string, unknown> | null | undefined): ReportSettings {
  const r = (config?.report ?? {}) as Partial<ReportSettings>;
  return { ...REPORT_DEFAULTS, ...r };
}
