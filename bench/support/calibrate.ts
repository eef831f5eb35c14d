/**
 * A yardstick of the machine, measured in the same run as a benchmark: how many trivial HTTP
 * requests per second one process answers another over loopback, each on a new connection, as
 * makos answer agents. The sandbox's services spend most of their time in exactly this (and in
 * the kernel under it), and shared machines differ in it by several times from day to day, so
 * figures of different runs compare only with this beside them.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, get } from 'node:http';
import { createInterface } from 'node:readline';

const SERVER = `
const http = require('node:http');
const body = Buffer.alloc(16384, 1);
http.createServer((req, res) => { res.setHeader('connection', 'close'); res.end(body); })
  .listen(0, '127.0.0.1', function () { console.log(this.address().port); });
`;

/** Requests per second of 16 parallel clients fetching 16 KiB, one connection per request. */
export async function loopbackHttpRate(requests = 4000, parallel = 16): Promise<number> {
  const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const lines = createInterface({ input: server.stdout });
    const [line] = (await once(lines, 'line')) as [string];
    const port = Number(line);
    const agent = new Agent({ keepAlive: false, maxSockets: parallel });
    const fetchOne = () =>
      new Promise<void>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.once('end', resolve);
          res.once('error', reject);
        }).once('error', reject);
      });
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < requests) {
          next++;
          await fetchOne();
        }
      }),
    );
    return requests / ((performance.now() - started) / 1000);
  } finally {
    server.kill();
  }
}
