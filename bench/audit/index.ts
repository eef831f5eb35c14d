/**
 * The audit benchmark (`npm run bench -- audit`), issue 16's two figures, on real PostgreSQL:
 *  - the safe-to-remove audit's objects/s beside a raw scan of the same records (audit.ts);
 *  - the orphan listing's files/s beside a plain directory walk (orphans.ts).
 *
 *   npm run bench -- audit [--database-url postgres://...] [--objects N] [--rounds N]
 *     [--mako-close] [--skip-orphans]
 * `--objects` defaults to 200,000 records (50,000 naming the shark): 1,000,000 does not fit in
 * five minutes on 2 cores (the fill alone takes about four); `--mako-close` makes the mako
 * close every connection, as real nginx does. The URL defaults to REBALANCER_TEST_PG_URL, then
 * the local server. Last line: one JSON `{"bench", "figures", "targets"}`.
 */
import { parseArgs } from 'node:util';
import { measureAudit } from './audit.ts';
import { measureOrphans } from './orphans.ts';

const { values: args } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    objects: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '2' },
    'mako-close': { type: 'boolean', default: false },
    'skip-orphans': { type: 'boolean', default: false },
  },
});

const audit = await measureAudit({
  adminUrl:
    args['database-url'] ??
    process.env.REBALANCER_TEST_PG_URL ??
    'postgres://postgres@127.0.0.1:5432/postgres',
  objects: Number(args.objects),
  rounds: Number(args.rounds),
  makoClose: args['mako-close'] === true,
});
const orphans = args['skip-orphans'] ? undefined : await measureOrphans();
console.log(
  JSON.stringify({
    bench: 'audit',
    figures: { ...audit.figures, ...orphans?.figures },
    targets: [...audit.targets, ...(orphans?.targets ?? [])],
  }),
);
