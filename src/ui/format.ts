/** How the console writes numbers, sizes, rates and times (pure: no DOM, tested alone). */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** `1,234,567`. */
export const count = (n: number): string => Math.round(n).toLocaleString('en-US');

/** `512 B`, `1.5 KiB`, `10 GiB`: one decimal below 10 of a unit, none above. */
export function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(n)} B`;
  const text = value < 10 ? value.toFixed(1).replace(/\.0$/, '') : Math.round(value).toString();
  return `${text} ${UNITS[unit]}`;
}

/** Storinfo counts in MiB (`available_mb`): `512 MiB`, `1.5 TiB`. */
export const megabytes = (mb: number): string => bytes(mb * 1024 * 1024);

/** `0.5`, `12.3`, `1,234`: a rate with the precision that matters at its size. */
export function rate(n: number): string {
  if (n === 0) return '0';
  if (n < 10) return n.toFixed(1);
  return count(n);
}

/** `45s`, `12m 05s`, `3h 02m`, `2d 04h`. */
export function duration(seconds: number): string {
  const s = Math.ceil(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${pad(Math.floor((s % 86_400) / 3600))}h`;
}

/** `42%`, `0.5%`, `99.9%`: never 100% before it is done, nor 0% once anything is. */
export function percent(done: number, total: number): string {
  if (total <= 0) return '0%';
  const p = (done / total) * 100;
  if (p >= 100) return '100%';
  if (p > 0 && p < 1) return `${p.toFixed(1)}%`;
  return p > 99 ? `${Math.min(p, 99.9).toFixed(1)}%` : `${Math.round(p)}%`;
}

/** An ISO time as the operator reads it: `2024-05-01 13:04:05` in their own time zone. */
export function time(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ` +
    `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`
  );
}

/** The first block of a UUID: enough to tell jobs apart in a list. */
export const shortId = (uuid: string): string => uuid.split('-')[0] ?? uuid;
