import { fork } from 'node:child_process';
import autocannon from 'autocannon';

async function main() {
  const child = fork('/work/wt-bench/bench/http-server.ts', [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_HTTP: JSON.stringify({ store: 'memory', table: 'x', argv: [] }) },
  });
  const port: number = await new Promise((r) => child.once('message', (m: any) => r(m.port)));
  const res = await fetch(`http://127.0.0.1:${port}/login`);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  for (let k = 0; k < 2; k++) {
    const r: any = await new Promise((resolve) =>
      autocannon(
        { url: `http://127.0.0.1:${port}/r`, connections: 32, duration: 3, headers: { cookie } },
        (_e: any, r: any) => resolve(r),
      ),
    );
    console.log('1x32', r['2xx'] / 3, r.latency.p50);
    for (const d of [3, 1]) {
      const t0 = Date.now();
      const rs: any[] = await Promise.all(
        Array.from(
          { length: 32 },
          () =>
            new Promise((resolve) =>
              autocannon(
                { url: `http://127.0.0.1:${port}/r`, connections: 1, duration: d, headers: { cookie } },
                (_e: any, r: any) => resolve(r),
              ),
            ),
        ),
      );
      console.log('32x1', d, rs.reduce((n, r) => n + r['2xx'], 0) / d, Date.now() - t0);
    }
  }
  child.kill();
}
main();
