// Self time by function (top N) and by "area" (file) of a .cpuprofile
import { readFileSync } from 'node:fs';
const [file, topN = 40] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const total = [...dt.values()].reduce((a, b) => a + b, 0);
const fileSelf = new Map();
for (const [id, t] of dt) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const key = `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber}`;
  self.set(key, (self.get(key) ?? 0) + t);
  const f = cf.url.includes('node_modules') ? cf.url.replace(/.*node_modules\//, '').split('/')[0] : cf.url ? cf.url.split('/').slice(-1)[0] : cf.functionName;
  fileSelf.set(f, (fileSelf.get(f) ?? 0) + t);
}
console.log('total ms', (total / 1000).toFixed(0));
for (const [k, t] of [...fileSelf].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(((t / total) * 100).toFixed(1).padStart(5), '%', k);
console.log('---');
for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(topN))) console.log(((t / total) * 100).toFixed(1).padStart(5), '%', k);
