import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every depth, so equal values give equal strings. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function hashBytes(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hashString(s: string): string {
  return hashBytes(s);
}

/** sha256 of the stable JSON of a value. */
export function hashObject(value: unknown): string {
  return hashBytes(stableStringify(value));
}
