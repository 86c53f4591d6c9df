import { fork } from 'node:child_process';
import { type BenchEnv, LAZY_TOUCH_WINDOW_SECONDS, storedForm } from './lib/contenders.js';
import type { MemoryChildConfig, MemoryChildReport } from './memory-child.js';

export interface MemoryResult extends MemoryChildReport {
  /** Heap growth from after the warmup to the end, in MB: what a million more operations left behind. */
  readonly deltaAfterWarmupMB: number;
  /** Heap growth from before the first operation to the end, in MB (includes filling the store's bounded cache of loaded sessions). */
  readonly deltaTotalMB: number;
  readonly opsPerSec: number;
}

export async function runMemory(env: BenchEnv, log: (line: string) => void): Promise<MemoryResult> {
  const { settings, admin } = env;
  const table = 'memory';
  await admin.createOursTable(table);
  await admin.seed(table, settings.memory.sessions, LAZY_TOUCH_WINDOW_SECONDS, false, storedForm({}));
  const config: MemoryChildConfig = { table, argv: settings.quick ? ['--quick'] : [] };
  const child = fork(`${__dirname}/memory-child.ts`, [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    env: { ...process.env, BENCH_MEMORY: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const report = await new Promise<MemoryChildReport>((resolve, reject) => {
    let received: MemoryChildReport | undefined;
    child.on('message', (m: MemoryChildReport) => {
      received = m;
    });
    child.on('exit', (code) =>
      received === undefined ? reject(new Error(`the memory test exited with code ${code}`)) : resolve(received),
    );
  });
  const [before, afterWarmup] = report.samples;
  const end = report.samples[report.samples.length - 1]!;
  const result: MemoryResult = {
    ...report,
    deltaAfterWarmupMB: end.heapUsedMB - afterWarmup!.heapUsedMB,
    deltaTotalMB: end.heapUsedMB - before!.heapUsedMB,
    opsPerSec: report.operations / report.seconds,
  };
  log(
    `  ${report.operations.toLocaleString('en-US')} operations in ${report.seconds.toFixed(1)} s; heap ${report.samples
      .map((s) => `${s.heapUsedMB.toFixed(1)} MB @${s.operations.toLocaleString('en-US')}`)
      .join(
        ' → ',
      )}; growth after warmup ${result.deltaAfterWarmupMB.toFixed(2)} MB, in all ${result.deltaTotalMB.toFixed(2)} MB${report.errors ? `; ${report.errors} errors` : ''}`,
  );
  return result;
}
