/**
 * Where the CPU of a profiled run went: self time of a V8 .cpuprofile grouped by who owns the
 * code (this package, Node-RED, axios, MSAL, Node's TLS/HTTP/net, GC, ...) and the top functions.
 *
 *   npx tsx bench/lib/profile-summary.ts bench/results/profiles/us.cpuprofile
 */
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  categories: { category: string; ms: number; share: number }[];
  top: { fn: string; where: string; category: string; ms: number; share: number }[];
}

export function categoryOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'V8/native (program)';
    return 'V8 builtins';
  }
  if (url.includes('/dist/nodes/') || url.includes('node-red-contrib-office365-mail')) return 'ours (dist/nodes)';
  if (url.includes('/bench/')) return 'bench harness';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) {
    if (pkg === 'node-red' || pkg.startsWith('@node-red/')) return 'Node-RED';
    if (pkg.startsWith('@azure/')) return 'MSAL';
    return pkg;
  }
  if (/^node:(_tls|tls|internal\/tls)/.test(url)) return 'node TLS';
  if (/^node:(_http|http|https|internal\/http)/.test(url)) return 'node HTTP';
  if (/^node:(net|stream|internal\/stream|internal\/streams|internal\/net|dns|internal\/dns)/.test(url)) return 'node net & streams';
  if (url.startsWith('node:')) return 'node core (other)';
  // Function nodes run their code in vm scripts named after the node.
  return 'function nodes (vm)';
}

export function summarise(file: string, topCount = 20): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const deltas = profile.timeDeltas;
  const average = deltas.length ? deltas.reduce((a, b) => a + b, 0) / deltas.length : 0;
  profile.samples.forEach((id, i) => {
    // A sample's time runs until the next sample (as Chrome DevTools counts it).
    const us = i + 1 < deltas.length ? deltas[i + 1] : average;
    selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  });
  const categories = new Map<string, number>();
  const functions = new Map<string, { fn: string; where: string; category: string; us: number }>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const category = categoryOf(frame);
    if (category === 'idle') {
      idleUs += us;
      continue;
    }
    categories.set(category, (categories.get(category) ?? 0) + us);
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName}|${where}`;
    const entry = functions.get(key) ?? { fn: frame.functionName || '(anonymous)', where, category, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const totalUs = [...categories.values()].reduce((a, b) => a + b, 0);
  const share = (us: number): number => (totalUs ? us / totalUs : 0);
  return {
    file,
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    categories: [...categories]
      .sort((a, b) => b[1] - a[1])
      .map(([category, us]) => ({ category, ms: us / 1000, share: share(us) })),
    top: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topCount)
      .map(({ us, ...f }) => ({ ...f, ms: us / 1000, share: share(us) })),
  };
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

export interface HeapSummary {
  file: string;
  totalMb: number;
  categories: { category: string; mb: number; share: number }[];
  top: { fn: string; where: string; category: string; mb: number; share: number }[];
}

/** Bytes allocated per owner and per function in a V8 sampling heap profile (HeapProfiler.stopSampling). */
export function summariseHeap(file: string, topCount = 20): HeapSummary {
  const { head } = JSON.parse(fs.readFileSync(file, 'utf8')) as { head: HeapNode };
  const categories = new Map<string, number>();
  const functions = new Map<string, { fn: string; where: string; category: string; bytes: number }>();
  const stack = [head];
  while (stack.length) {
    const node = stack.pop() as HeapNode;
    stack.push(...node.children);
    if (!node.selfSize) continue;
    const frame = node.callFrame;
    const category = categoryOf(frame);
    categories.set(category, (categories.get(category) ?? 0) + node.selfSize);
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName}|${where}`;
    const entry = functions.get(key) ?? { fn: frame.functionName || '(anonymous)', where, category, bytes: 0 };
    entry.bytes += node.selfSize;
    functions.set(key, entry);
  }
  const total = [...categories.values()].reduce((a, b) => a + b, 0);
  const share = (b: number): number => (total ? b / total : 0);
  return {
    file,
    totalMb: total / 1024 / 1024,
    categories: [...categories].sort((a, b) => b[1] - a[1]).map(([category, b]) => ({ category, mb: b / 1024 / 1024, share: share(b) })),
    top: [...functions.values()]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, topCount)
      .map(({ bytes, ...f }) => ({ ...f, mb: bytes / 1024 / 1024, share: share(bytes) })),
  };
}

export function formatHeapSummary(summary: HeapSummary, title: string): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(5)}%`;
  const lines = [`${title}: ${summary.totalMb.toFixed(1)} MB allocated in the profiled run (${path.basename(summary.file)})`];
  for (const c of summary.categories) lines.push(`  ${pct(c.share)}  ${c.mb.toFixed(1).padStart(6)} MB  ${c.category}`);
  lines.push('  top functions (bytes allocated):');
  for (const f of summary.top) lines.push(`  ${pct(f.share)}  ${f.mb.toFixed(1).padStart(6)} MB  ${f.fn}  ${f.where}  [${f.category}]`);
  return lines.join('\n');
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const dist = url.indexOf('/dist/nodes/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

export function formatSummary(summary: ProfileSummary, title: string): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(5)}%`;
  const lines = [`${title}: ${summary.totalMs.toFixed(0)} ms on CPU in the profiled run (${path.basename(summary.file)})`];
  for (const c of summary.categories) lines.push(`  ${pct(c.share)}  ${c.ms.toFixed(0).padStart(6)} ms  ${c.category}`);
  lines.push('  top functions (self time):');
  for (const f of summary.top) lines.push(`  ${pct(f.share)}  ${f.fn}  ${f.where}  [${f.category}]`);
  return lines.join('\n');
}

if (require.main === module) {
  for (const file of process.argv.slice(2)) process.stdout.write(`${formatSummary(summarise(file, 30), file)}\n`);
}
