// Turns the raw results of bench/peers.mjs into medians, ratios against issue 12's goals, a Markdown
// section for docs/benchmarks.md (replacing its own previous section, keeping the others) and an SVG chart.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { median } from './measure.mjs';

export const SECTION_START = '<!-- bench:peers:start (written by `npm run bench:peers`; edits here are overwritten) -->';
export const SECTION_END = '<!-- bench:peers:end -->';

const JOBS = [
  { key: 'export', title: 'export (backup to a directory, every cell\'s writetime and TTL)', contenders: ['cassette', 'dsbulk', 'driver'] },
  { key: 'restore', title: 'restore into a fresh table (writetimes and TTLs kept)', contenders: ['cassette', 'dsbulk'] },
  { key: 'rotate', title: 'online rotation, Fernet → Fernet', contenders: ['cassette', 'cassandra-rekey'] },
  { key: 'rekey', title: 'offline rekey transform, --threads 2', contenders: ['cassette'] },
];
const NAMES = {
  export: { cassette: 'cassette backup', dsbulk: 'dsbulk 1.10.0 unload (gzip JSON, preserveTimestamp + preserveTtl)', driver: 'cassandra-driver read only (ceiling)' },
  restore: { cassette: 'cassette restore', dsbulk: 'dsbulk 1.10.0 load of its export (preserveTimestamp + preserveTtl)' },
  rotate: { cassette: 'cassette rotate (timestamp guard, preserve_ttl + preserve_writetime)', 'cassandra-rekey': 'cassandra-rekey 0.1.0 run (preserve_ttl: false, preserve_writetime: true, workers 8, chunks 256)' },
  rekey: { cassette: 'cassette rekey (bench/rekey-transform.mjs)' },
};

/** Medians per job and contender: { export: { cassette: { wall, cpu, rssMiB, runs }, … }, … }. */
export function summarize(results) {
  const out = {};
  for (const job of JOBS) {
    const reps = results[job.key] ?? [];
    out[job.key] = {};
    for (const who of job.contenders) {
      const xs = reps.map((rep) => rep[who]).filter(Boolean);
      if (xs.length === 0) continue;
      out[job.key][who] = { runs: xs.length, wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)), rssMiB: median(xs.map((x) => x.rssMiB)),
        ...(xs[0].valuesPerSecond === undefined ? {} : { valuesPerSecond: median(xs.map((x) => x.valuesPerSecond)), valuesPerCpuSecond: median(xs.map((x) => x.values / x.cpu)) }) };
    }
  }
  return out;
}

/**
 * Each goal of issue 12 with its measured value: { goal, measured, target, met, text, cpuText }. The
 * goals are set on wall time; `cpuText` is the same comparison by client CPU seconds (peer ÷ cassette;
 * for the transform, values per CPU second × 2 cores), which a loaded machine distorts less.
 */
export function goals(summary) {
  const s = summary;
  const ratio = (a, b) => (a && b ? a.wall / b.wall : NaN);
  const cpuRatio = (a, b) => (a && b ? a.cpu / b.cpu : NaN);
  const list = [
    { goal: 'export ≥ 1.6× dsbulk unload (wall)', measured: ratio(s.export.dsbulk, s.export.cassette), byCpu: cpuRatio(s.export.dsbulk, s.export.cassette), target: 1.6, unit: '×' },
    { goal: 'export ≥ 70% of the driver-only read (wall)', measured: ratio(s.export.driver, s.export.cassette), byCpu: cpuRatio(s.export.driver, s.export.cassette), target: 0.7, unit: '%' },
    { goal: 'restore ≥ 3× dsbulk load (wall)', measured: ratio(s.restore.dsbulk, s.restore.cassette), byCpu: cpuRatio(s.restore.dsbulk, s.restore.cassette), target: 3, unit: '×' },
    { goal: 'online rotate ≥ 6× cassandra-rekey run (wall)', measured: ratio(s.rotate['cassandra-rekey'], s.rotate.cassette), byCpu: cpuRatio(s.rotate['cassandra-rekey'], s.rotate.cassette), target: 6, unit: '×' },
    { goal: 'offline rekey transform ≥ 100,000 values/s (2 threads)', measured: s.rekey.cassette?.valuesPerSecond, byCpu: 2 * (s.rekey.cassette?.valuesPerCpuSecond ?? NaN), target: 100_000, unit: '/s' },
    ...['export', 'restore', 'rekey'].map((job) => ({ goal: `peak RSS of ${job === 'export' ? 'backup' : job} ≤ 256 MiB`, measured: s[job].cassette?.rssMiB, target: 256, unit: 'MiB', lower: true })),
  ];
  const show = (g, x) => (g.unit === '%' ? `${(x * 100).toFixed(0)}%` : g.unit === '×' ? `${x.toFixed(2)}×`
    : g.unit === '/s' ? `${Math.round(x).toLocaleString('en-US')} values/s` : `${x.toFixed(0)} MiB`);
  const verdict = (g, x) => {
    if (!Number.isFinite(x)) return undefined;
    const met = g.lower ? x <= g.target : x >= g.target;
    const short = g.lower ? (x - g.target) / g.target : (g.target - x) / g.target;
    return { met, text: met ? `${show(g, x)}: **met**` : `${show(g, x)}: short by ${(short * 100).toFixed(0)}%` };
  };
  return list.map((g) => {
    const wall = verdict(g, g.measured);
    const cpu = verdict(g, g.byCpu);
    return { ...g, met: wall?.met ?? false, text: wall?.text ?? 'not measured', cpuText: cpu?.text ?? '—' };
  });
}

/** The command line as run, with --note's text (shown after it anyway) as "…". */
const shownArgv = (argv) => argv.map((a, i) => (argv[i - 1] === '--note' ? '"…"' : a)).join(' ');

const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

/** The Markdown section: how it was run, the medians, the goals. `chartPath` is relative to the docs file. */
export function markdownSection(results, summary, chartPath) {
  const c = results.conditions;
  const lines = [SECTION_START, '## Side by side with dsbulk and cassandra-rekey (`npm run bench:peers`)', '',
    `Run ${c.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${c.finishedAt ? `${Math.round((Date.parse(c.finishedAt) - Date.parse(c.startedAt)) / 60000)} min` : ''}: ` +
    `\`npm run bench:peers -- ${shownArgv(c.argv)}\`. ${c.machine}. ${c.note}`, '',
    `- **Dataset** (issue 12): ${results.rows.toLocaleString('en-US')} rows of \`(id uuid, shard bigint, at timestamp, secret blob, card blob, note text, amount double, key_version text, ` +
    'PRIMARY KEY ((id, shard), at))`, 5 rows per partition; `secret` and `card` hold 120-byte Fernet tokens, `note` 60 characters; every cell has its own writetime, ' +
    'every tenth row a 7-day TTL. Online rotation uses a fresh table of ' + `${results.rotateRows.toLocaleString('en-US')} rows of the same shape per run; the offline transform ` +
    `bench/rekey-transform.mjs's own dataset of ${results.rekeyRows.toLocaleString('en-US')} rows (2 encrypted values per row).`,
    `- **Method**: ${results.runs} repetition(s) of each pair, contenders alternating in order; each number is the **median**. *wall* is the whole process ` +
    '(dsbulk\'s includes its JVM start, a few seconds), *CPU s* is user + sys of the client\'s process tree (GNU time), *peak RSS* its largest process. ' +
    'Cassandra\'s own CPU is not counted. dsbulk runs with `-Xmx2g` and its defaults otherwise; cassette with its defaults. ' +
    'The goals are set on wall time; the last column of the goals table makes the same comparison by client CPU seconds (peer ÷ cassette; ' +
    'for the transform, values per CPU second × 2 cores), which other work on the machine distorts less.', '',
    '| job | contender | wall s | CPU s | peak RSS MiB | rows/s (wall) |', '|---|---|---:|---:|---:|---:|'];
  for (const job of JOBS) {
    for (const who of job.contenders) {
      const m = summary[job.key][who];
      if (!m) continue;
      const rows = job.key === 'rotate' ? results.rotateRows : job.key === 'rekey' ? undefined : results.rows;
      const rate = job.key === 'rekey' ? `${Math.round(m.valuesPerSecond).toLocaleString('en-US')} values/s` : Math.round(rows / m.wall).toLocaleString('en-US');
      lines.push(`| ${job.key} | ${NAMES[job.key][who]} | ${fmt(m.wall)} | ${fmt(m.cpu)} | ${fmt(m.rssMiB, 0)} | ${rate} |`);
    }
  }
  lines.push('', '| goal (issue 12) | measured | the same by client CPU seconds |', '|---|---|---|',
    ...goals(summary).map((g) => `| ${g.goal} | ${g.text} | ${g.cpuText} |`), '',
    `![wall time per job and contender, and cassette's ratio against each goal](${chartPath})`, '',
    `Raw results (every repetition): \`${c.rawPath.replace(homedir(), '~')}\` on the machine that ran it.`, SECTION_END);
  return lines.join('\n');
}

/** Writes `section` into `file`, replacing the previous one between the markers, or appending it. */
export function writeSection(file, section) {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = text.indexOf(SECTION_START);
  const end = text.indexOf(SECTION_END);
  const next = start >= 0 && end > start
    ? `${text.slice(0, start)}${section}${text.slice(end + SECTION_END.length)}`
    : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = { cassette: '#2b6cb0', dsbulk: '#dd6b20', driver: '#718096', 'cassandra-rekey': '#c53030' };

/** A hand-written SVG: left, median wall seconds per job and contender; right, each ratio against its goal. */
export function chartSvg(results, summary) {
  const rows = [];
  for (const job of JOBS.filter((j) => j.key !== 'rekey')) {
    for (const who of job.contenders) if (summary[job.key][who]) rows.push({ job: job.key, who, wall: summary[job.key][who].wall });
  }
  const g = goals(summary).slice(0, 5);
  const width = 900;
  const barH = 18;
  const top = 50;
  const leftH = rows.length * (barH + 6) + 3 * 10;
  const rightH = g.length * (barH + 16);
  const height = top + Math.max(leftH, rightH) + 40;
  const maxWall = Math.max(...rows.map((r) => r.wall)) || 1;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">cassette vs peers: ${results.rows.toLocaleString('en-US')} rows (rotation ${results.rotateRows.toLocaleString('en-US')}), median of ${results.runs}</text>`,
    `<text x="10" y="40" fill="#444">median wall seconds (shorter is better)</text>`,
    `<text x="500" y="40" fill="#444">cassette's ratio / goal (bar reaches the line = goal met)</text>`];
  let y = top;
  let lastJob = '';
  for (const r of rows) {
    if (r.job !== lastJob && lastJob !== '') y += 10;
    lastJob = r.job;
    const w = (r.wall / maxWall) * 250;
    parts.push(`<text x="10" y="${y + 13}">${esc(`${r.job}: ${r.who}`)}</text>`,
      `<rect x="170" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[r.who] ?? '#555'}"/>`,
      `<text x="${(175 + w).toFixed(1)}" y="${y + 13}">${fmt(r.wall)} s</text>`);
    y += barH + 6;
  }
  y = top;
  for (const goal of g) {
    // The goal is the dashed line at 120 px; a bar longer than 1.5× the goal is cut there.
    const fraction = Number.isFinite(goal.measured) ? Math.min(goal.measured / goal.target, 1.5) : 0;
    const w = fraction * 120;
    parts.push(`<text x="500" y="${y + 11}">${esc(goal.goal)}</text>`,
      `<rect x="500" y="${y + 14}" width="${w.toFixed(1)}" height="${barH - 4}" fill="${goal.met ? '#2f855a' : '#c05621'}"/>`,
      `<line x1="620" y1="${y + 12}" x2="620" y2="${y + barH + 12}" stroke="#000" stroke-dasharray="3,2"/>`,
      `<text x="${(505 + Math.max(w, 120)).toFixed(1)}" y="${y + 26}">${esc(goal.text.replace(/\*\*/g, ''))}</text>`);
    y += barH + 16;
  }
  parts.push(`<text x="10" y="${height - 12}" fill="#666" font-size="10">${esc(results.conditions.machine)}</text>`, '</svg>');
  return `${parts.join('\n')}\n`;
}
