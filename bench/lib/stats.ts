/** Small helpers for reporting: histogram percentiles, rounding, markdown tables. */

/** Merges sparse `[bucket, count]` histograms. */
export function mergeHistograms(
  parts: readonly (readonly [number, number][])[],
): Map<number, number> {
  const merged = new Map<number, number>();
  for (const part of parts) {
    for (const [bucket, count] of part) merged.set(bucket, (merged.get(bucket) ?? 0) + count);
  }
  return merged;
}

/** The value at quantile `q` (0…1) of a bucketed histogram, as the bucket's upper edge. */
export function percentile(histogram: Map<number, number>, q: number, resolution: number): number {
  const buckets = [...histogram.entries()].sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((n, [, c]) => n + c, 0);
  if (!total) return NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [bucket, count] of buckets) {
    seen += count;
    if (seen >= rank) return (bucket + 1) * resolution;
  }
  return (buckets[buckets.length - 1]![0] + 1) * resolution;
}

/** Rounds to `digits` decimals; NaN and undefined stay as they are. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A markdown table; cells are printed as given. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly unknown[])[],
): string {
  const text = (v: unknown): string => {
    if (v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v))) return '–';
    if (typeof v === 'object') return JSON.stringify(v);
    return typeof v === 'string'
      ? v
      : typeof v === 'number' || typeof v === 'boolean'
        ? `${v}`
        : '?';
  };
  const all = [header.map(text), ...rows.map((r) => r.map(text))];
  const widths = header.map((_, i) => Math.max(3, ...all.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(all[0]!),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...all.slice(1).map(line),
  ].join('\n');
}
