/** Small helpers for the bench: medians, fixed formatting, sizes from the environment, saving results. */
import fs from 'node:fs';

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

/** A plain-text table with right-aligned numeric columns. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A whole number from the environment (a bench's size), at least `min`; the fallback when unset. */
export function intFromEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number ≥ ${min}, not "${raw}".`);
  return value;
}

/** Writes one scenario's result to its own file and as its entry of latest.json (other entries kept). */
export function saveResult(dir: string, name: string, result: unknown): void {
  fs.writeFileSync(`${dir}/${name}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const latestFile = `${dir}/latest.json`;
  let latest: Record<string, unknown> = {};
  try {
    latest = JSON.parse(fs.readFileSync(latestFile, 'utf8')) as Record<string, unknown>;
  } catch {
    // no earlier run
  }
  fs.writeFileSync(latestFile, `${JSON.stringify({ ...latest, [name]: result }, null, 2)}\n`);
}
