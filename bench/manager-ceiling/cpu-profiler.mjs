/**
 * Preloaded into the manager by the manager-ceiling benchmark with `--cpu-prof <dir>`
 * (`NODE_OPTIONS=--import <this file>`: Node 20 refuses `--cpu-prof` in NODE_OPTIONS, and the
 * sandbox starts services as `node <entry>`): V8's sampling profiler runs from the start, and
 * at exit the profile is written to $MANAGER_CPU_PROF_DIR/manager-<pid>.cpuprofile, as
 * `node --cpu-prof` would. Plain JavaScript: the manager runs from dist/ without tsx.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.MANAGER_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  // A main-thread session answers synchronously: the exit handler can stop and write.
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.once('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      writeFileSync(join(dir, `manager-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
