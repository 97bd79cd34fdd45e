/** Where reports are written under a runs folder (pure path rules). */
import path from 'node:path';

/** The folder name of a sweep's report (the id, with anything but [A-Za-z0-9._-] replaced). */
export function reportFolderName(sweepId: string): string {
  const safe = sweepId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return safe || '_';
}

export function reportsDir(runsDir: string): string {
  return path.join(runsDir, 'reports');
}

/** `<runs>/reports/compare/`: one folder per comparison. */
export function comparisonsDir(runsDir: string): string {
  return path.join(reportsDir(runsDir), 'compare');
}

/** The folder name of a comparison: the sweep ids joined by `__vs__` (made safe, at most 180 characters). */
export function comparisonFolderName(sweepIds: readonly string[]): string {
  const name = reportFolderName(sweepIds.join('__vs__'));
  return name.length > 180 ? `${name.slice(0, 163)}_${sweepIds.length}sweeps` : name;
}
