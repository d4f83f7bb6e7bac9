/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * Fault suite, `tensorrt-node serve` as a child process (the built bin, dist/cli/index.js) on loopback: listen
 * failures exit 1 at once with one line and a code (issue 25.3); SIGTERM with a --drain-timeout that passes
 * never aborts the process (25.4); shutdown ends idle and half-sent connections and exits 0 at once when nothing
 * is in flight (26.2); requests sent around SIGTERM get an answer or a 503, never a reset (26.5). Every wait is
 * bounded.
 */
import * as fs from 'fs';
import * as net from 'net';
import { BIN, CLS, spawnServe, tryOrt } from './serve-helpers';

const ort = tryOrt();
const why = !ort ? 'onnxruntime-node (optional dependency) is not installed' : !fs.existsSync(BIN) ? 'dist/ is not built (npm run build:ts)' : null;
if (why) console.log(`serve fault (CLI) tests skipped: ${why}`);
const d = why ? describe.skip : describe;

d('serve: listen failures (issue 25.3)', () => {
  let busy: net.Server | null = null;
  afterAll(() => busy?.close());

  test('busy port, --port 70000, --host 256.1.1.1: exit 1 within a second of the failure, one line with a code', async () => {
    busy = net.createServer();
    await new Promise<void>((r) => busy!.listen(0, '127.0.0.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    const cases: [string[], RegExp][] = [
      [['--port', String(port)], /^tensorrt-node serve: cannot listen on 127\.0\.0\.1:\d+: the address is already in use.* \[IO_ERROR\]\n$/],
      [['--port', '70000'], /^tensorrt-node serve: --port: '70000' is larger than 65535 \[INVALID_ARGUMENT\]\n$/],
      [['--host', '256.1.1.1', '--port', '0'], /^tensorrt-node serve: cannot listen on 256\.1\.1\.1:0: '256\.1\.1\.1' is not an IP address or a resolvable host name \[INVALID_ARGUMENT\]\n$/],
    ];
    for (const [args, line] of cases) {
      const started = Date.now();
      const s = await spawnServe([CLS, '--log-level', 'silent', ...args]);
      const timer = setTimeout(() => s.child.kill('SIGKILL'), 15000);
      const { code, at } = await s.exited;
      clearTimeout(timer);
      expect(s.base).toBe('');
      expect([code, s.out()]).toEqual([1, expect.stringMatching(line)]);
      // the model loads first (~0.3 s here); the failure then ends the process at once, not after a timeout
      expect(at - started).toBeLessThan(5000);
    }
  });
});
