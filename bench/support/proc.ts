/**
 * What benchmarks read of processes from /proc: CPU time, so a benchmark can say where a
 * saturated machine's cores went, and resident memory. CPU times are in seconds; Linux reports
 * them in USER_HZ ticks, 100 per second on every architecture Node supports.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU of a process: fields 14 and 15 of its stat line. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * CPU of every PostgreSQL process on this machine, including backends that have exited: the
 * postmaster (the one whose parent is not PostgreSQL) holds their time as its reaped children's
 * (fields 16 and 17). A process that exits between listing and reading is not counted.
 */
export function postgresCpuSeconds(): number {
  const isPostgres = (pid: number) =>
    readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres');
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      if (!isPostgres(pid)) continue;
      const f = statFields(pid);
      total += (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
      if (!isPostgres(Number(f[1]))) total += (Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // The process exited while we read it; its time moves to the postmaster's reaped total.
    }
  }
  return total;
}

/**
 * CPU the whole machine has spent working (user, nice, system, irq, softirq), the time the
 * hypervisor gave its cores to others (steal), and its core count.
 */
export function machineCpuSeconds(): { busy: number; steal: number; cores: number } {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const t = lines[0]?.split(/\s+/).slice(1).map(Number) ?? [];
  const at = (i: number) => t[i] ?? 0;
  // Order: user nice system idle iowait irq softirq steal (guest time is already in user).
  const busy = at(0) + at(1) + at(2) + at(5) + at(6);
  const cores = lines.filter((l) => /^cpu\d+ /.test(l)).length;
  return { busy: busy / TICKS_PER_SECOND, steal: at(7) / TICKS_PER_SECOND, cores };
}

/** A process's peak resident set (VmHWM) or current one (VmRSS), in MiB. */
export function rssMb(pid: number, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} for pid ${pid}`);
  return Number(match[1]) / 1024;
}
