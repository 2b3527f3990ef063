import { rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDeployment } from '../test/distributed/deployment.ts';
const dir = '/tmp/prof';
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir);
const n = Number(process.env.N ?? 400);
const dep = await startDeployment();
writeFileSync(join(dep.schedulerRoot, 'dags', 'noop.ts'), `import { dag } from 'hangar';\nexport const d = dag({ id: 'noop', schedule: null, startDate: '2024-01-01', maxActiveTasks: 1000 });\nconst root = d.task('root', async () => 0);\nfor (let i = 1; i < ${n}; i++) root.before(d.task('t' + i, async () => undefined));\n`);
// warm: one run without profiling
await dep.startWorker('w1'); await dep.startWorker('w2');
let r = await dep.hangar(['run', 'noop', '--workspace', dep.schedulerRoot, '-o', 'plain']);
console.log('warm', r.code);
for (const w of dep.workers) { w.child.kill('SIGTERM'); await w.exited; }
dep.workers.length = 0;
process.env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${dir}`;
await dep.startWorker('w1'); await dep.startWorker('w2');
const t0 = performance.now();
r = await dep.hangar(['run', 'noop', '--workspace', dep.schedulerRoot, '-o', 'plain']);
console.log('run', r.code, ((performance.now() - t0) / 1000).toFixed(2), 's');
for (const w of dep.workers) { w.child.kill('SIGTERM'); await w.exited; }
delete process.env.NODE_OPTIONS;
await dep.close();
