/**
 * deploy/: what the Kubernetes manifests, the Dockerfile and the Grafana dashboard must say
 * (issue 14), read as data. Schema validation with kubeconform is in
 * test/integration/deploy-manifests.test.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildProgram, type ProgramContext } from '../../src/cli/program.js';
import { BACKUP_ID_PATTERN, JOB_ID_PATTERN } from '../../src/manifest/keys.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const kubeDir = join(root, 'deploy', 'kubernetes');

type Node = Record<string, unknown>;
const obj = (value: unknown): Node => (value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Node : {});
const list = (value: unknown): Node[] => (Array.isArray(value) ? value.map(obj) : []);

const documents = readdirSync(kubeDir).filter((f) => f.endsWith('.yaml')).sort().flatMap((file) =>
  parseAllDocuments(readFileSync(join(kubeDir, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
    return { file, doc: obj(doc.toJS()) };
  }));
const byKind = (kind: string) => documents.filter((d) => d.doc.kind === kind);

/** Every Job spec: the Jobs' own and the CronJob's template, with where it came from. */
const jobs = [
  ...byKind('Job').map((d) => ({ name: `${d.file}`, spec: obj(d.doc.spec) })),
  ...byKind('CronJob').map((d) => ({ name: `${d.file}`, spec: obj(obj(obj(d.doc.spec).jobTemplate).spec) })),
];
const podOf = (spec: Node): Node => obj(obj(spec.template).spec);
const containerOf = (spec: Node): Node => {
  const containers = list(podOf(spec).containers);
  expect(containers).toHaveLength(1);
  return containers[0] as Node;
};
const scriptOf = (spec: Node): string => [...(containerOf(spec).command as string[] ?? []), ...(containerOf(spec).args as string[] ?? [])].join('\n');

/** The cassette command lines of a container, as words: `[subcommand, ...flags]`. */
function cassetteCommands(spec: Node): string[][] {
  return scriptOf(spec).split('\n').filter((line) => line.includes('/app/bin/cassette.js ')).map((line) => {
    return (line.split('/app/bin/cassette.js ')[1] as string).replace(/\s*(\)")?\s*(\|\||&&).*$/, '').trim().split(/\s+/);
  });
}
const flagValue = (words: readonly string[], flag: string): string | undefined => {
  const i = words.indexOf(flag);
  return i < 0 ? undefined : words[i + 1];
};

const SECRET_NAME = /pass(word|phrase)?|secret|token|credential|private|(^|_)key($|_)/i;

describe('deploy/kubernetes', () => {
  it('has the three workloads and what they use, each file one valid YAML document', () => {
    expect(documents.map((d) => `${d.file}:${String(d.doc.kind)}`)).toEqual([
      'backup-cronjob.yaml:CronJob', 'backup-job.yaml:Job', 'rotate-job.yaml:Job', 'rotation-configmap.yaml:ConfigMap', 'serviceaccount.yaml:ServiceAccount',
    ]);
  });

  it.each(jobs)('$name: an Indexed Job, completions = parallelism, a backoffLimit, pods replaced only once gone', ({ spec }) => {
    expect(spec.completionMode).toBe('Indexed');
    expect(spec.completions).toBeGreaterThanOrEqual(1);
    expect(spec.parallelism).toBe(spec.completions);
    expect(spec.backoffLimit).toBeGreaterThanOrEqual(1);
    expect(spec.podReplacementPolicy).toBe('Failed');
    expect(podOf(spec).restartPolicy).toBe('Never');
    expect(spec.activeDeadlineSeconds).toBeGreaterThan(0);
  });

  it.each(jobs.filter((j) => cassetteCommands(j.spec)[0]?.[0] === 'backup'))('$name: every pod runs one backup command, once, whose --workers is the pod count', ({ spec }) => {
    const [backup] = cassetteCommands(spec) as [string[]];
    expect(flagValue(backup, '--workers')).toBe(String(spec.completions));
    expect(flagValue(backup, '--backup-id')).toMatch(/^"\$(BACKUP_ID|id)"$/);
    expect(backup).toContain('--json');
    // The index never picks the work: the same command in every pod (decisions/0011).
    const beforeBackup = scriptOf(spec).split('/app/bin/cassette.js backup')[0] as string;
    expect(beforeBackup).not.toContain('JOB_COMPLETION_INDEX');
    // A worker of a shared run ends only once the whole run is complete: no loop runs it again.
    expect(scriptOf(spec)).not.toMatch(/\bwhile\b|\buntil\b|\bsleep\b|"complete"/);
  });

  it('backup-job.yaml: the backup id the pods share is one cassette accepts', () => {
    const env = list(containerOf(jobs.find((j) => j.name === 'backup-job.yaml')?.spec ?? {}).env);
    expect(env.find((e) => e.name === 'BACKUP_ID')?.value).toMatch(BACKUP_ID_PATTERN);
  });

  it('backup-cronjob.yaml: the id is made from the Job name the CronJob gives, then the backup is verified', () => {
    const spec = jobs.find((j) => j.name === 'backup-cronjob.yaml')?.spec ?? {};
    const env = list(containerOf(spec).env);
    expect(obj(obj(env.find((e) => e.name === 'JOB_NAME')?.valueFrom).fieldRef).fieldPath).toBe("metadata.labels['batch.kubernetes.io/job-name']");
    // The shell's arithmetic, done here for a scheduled time: 2026-12-05 02:00 UTC.
    const minutes = Date.UTC(2026, 11, 5, 2, 0) / 60_000;
    const id = `${new Date(minutes * 60_000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${(minutes % 16_777_216).toString(16).padStart(6, '0')}`;
    expect(id).toMatch(BACKUP_ID_PATTERN);
    expect(scriptOf(spec)).toContain(`id="$(date -u -d "@$((minutes * 60))" +%Y%m%dT%H%M%SZ)-$(printf '%06x' $((minutes % 16777216)))"`);
    expect(cassetteCommands(spec).map((words) => words[0])).toEqual(['backup', 'verify']);
  });

  it('rotate-job.yaml: several pods run the same shared rotate command, with the config from the ConfigMap', () => {
    const spec = jobs.find((j) => j.name === 'rotate-job.yaml')?.spec ?? {};
    expect(spec.completionMode).toBe('Indexed');
    expect(spec.completions).toBeGreaterThanOrEqual(2);
    expect(spec.parallelism).toBe(spec.completions);
    const commands = cassetteCommands(spec);
    expect(commands).toHaveLength(1);
    const [rotate] = commands as [string[]];
    expect(rotate[0]).toBe('rotate');
    expect(flagValue(rotate, '--config')).toBe('/etc/cassette/rotation.yaml');
    expect(flagValue(rotate, '--job-id')).toBe('"$ROTATION_JOB_ID"');
    expect(rotate).toContain('--json');
    expect(rotate).not.toContain('--job');
    expect(rotate).not.toContain('--new');
    // The same command in every pod, run once: no index, no retry loop (the pods of one job never exit 14).
    expect(scriptOf(spec)).not.toMatch(/JOB_COMPLETION_INDEX|\bwhile\b|\buntil\b|\bsleep\b|\b14\b/);
    const env = list(containerOf(spec).env);
    expect(env.find((e) => e.name === 'ROTATION_JOB_ID')?.value).toMatch(JOB_ID_PATTERN);
    const mounts = list(containerOf(spec).volumeMounts);
    const volumes = list(podOf(spec).volumes);
    const configVolume = volumes.find((v) => obj(v.configMap).name === 'cassette-rotation');
    expect(mounts.find((m) => m.name === configVolume?.name)?.mountPath).toBe('/etc/cassette');
  });

  it.each(jobs)('$name: non-root, read-only root file system, /tmp on an emptyDir, memory bounded', ({ spec }) => {
    const pod = podOf(spec);
    const container = containerOf(spec);
    expect(obj(pod.securityContext)).toMatchObject({ runAsNonRoot: true });
    expect(obj(pod.securityContext).runAsUser).not.toBe(0);
    expect(obj(container.securityContext)).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    const tmp = list(container.volumeMounts).find((m) => m.mountPath === '/tmp');
    expect(list(pod.volumes).find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    expect(obj(obj(container.resources).limits).memory).toBe('512Mi');
    expect(obj(obj(container.resources).requests).memory).toBeDefined();
  });

  it.each(jobs)('$name: metrics on the port the flag names, announced for scraping', ({ spec }) => {
    const port = list(containerOf(spec).ports).find((p) => p.name === 'metrics')?.containerPort;
    expect(port).toBe(9464);
    for (const words of cassetteCommands(spec)) {
      expect(flagValue(words, '--metrics-port')).toBe(String(port));
      expect(flagValue(words, '--log-format')).toBe('json');
    }
    expect(obj(obj(obj(spec.template).metadata).annotations)).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port) });
  });

  it.each(jobs)('$name: every flag is one the cassette subcommand has', ({ spec }) => {
    const program = buildProgram({ version: '0.0.0-test', env: {}, argv: [], signal: new AbortController().signal, stdout: () => undefined } as ProgramContext);
    for (const [subcommand, ...words] of cassetteCommands(spec)) {
      const command = program.commands.find((c) => c.name() === subcommand);
      expect(command, subcommand).toBeDefined();
      const known = new Set([...(command?.options ?? []), ...program.options].map((o) => o.long));
      const unknown = words.filter((w) => w.startsWith('--') && !known.has(w));
      expect(unknown, `${subcommand} flags`).toEqual([]);
    }
  });

  it.each(jobs)('$name: secrets only by reference — env from Secrets, key and password files from Secret volumes', ({ spec }) => {
    const pod = podOf(spec);
    const container = containerOf(spec);
    for (const e of list(container.env)) {
      if (SECRET_NAME.test(String(e.name))) {
        expect(e.value, String(e.name)).toBeUndefined();
        expect(obj(obj(e.valueFrom).secretKeyRef).name, String(e.name)).toBeDefined();
      }
    }
    const secretMounts = list(container.volumeMounts)
      .filter((m) => list(pod.volumes).find((v) => v.name === m.name)?.secret !== undefined)
      .map((m) => String(m.mountPath));
    expect(secretMounts.length).toBeGreaterThan(0);
    for (const m of list(container.volumeMounts)) if (secretMounts.includes(String(m.mountPath))) expect(m.readOnly).toBe(true);
    const underSecret = (path: string): boolean => secretMounts.some((dir) => path.startsWith(`${dir}/`));
    const script = scriptOf(spec);
    expect(script).not.toMatch(/--password(?!-file)\b|--passphrase\b|CASSETTE_PASSWORD=/);
    for (const file of script.match(/--(?:password|passphrase)-file\s+(\S+)/g) ?? []) expect(underSecret(file.split(/\s+/)[1] as string), file).toBe(true);
    if (script.includes('--config /etc/cassette/rotation.yaml')) {
      const config = String(obj(byKind('ConfigMap')[0]?.doc.data)['rotation.yaml']);
      const files = [...config.matchAll(/(?:password_file|_key_file|file):\s*(\S+)/g)].map((m) => m[1] as string);
      expect(files.length).toBeGreaterThanOrEqual(3);
      for (const file of files) expect(underSecret(file), file).toBe(true);
      expect(config).not.toMatch(/_key_env|password:/);
    }
  });

  it('no file holds anything that looks like a secret value', () => {
    const looksSecret = [
      /AKIA[0-9A-Z]{16}/, // AWS access key id
      /AGE-SECRET-KEY-1/, // age identity
      /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
      /\b[A-Za-z0-9_-]{43}=/, // Fernet key
      /\b[0-9a-f]{64}\b/, // 32-byte hex key
    ];
    for (const file of readdirSync(kubeDir)) {
      const text = readFileSync(join(kubeDir, file), 'utf8');
      for (const pattern of looksSecret) expect(text, `${file} ${pattern}`).not.toMatch(pattern);
    }
    expect(byKind('Secret')).toEqual([]);
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8');
  const instructions = dockerfile.replace(/\\\n\s*/g, ' ').split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  const stages = instructions.filter((l) => l.startsWith('FROM '));

  it('is multi-stage, every stage on a pinned node:20 slim image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const from of stages) expect(from).toMatch(/^FROM node:20\.\d+\.\d+-slim( AS \w+)?$/);
  });

  it('runs as a non-root user, the last USER of the last stage', () => {
    const last = instructions.slice(instructions.lastIndexOf(stages.at(-1) as string));
    const user = last.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)\b/);
    expect(last.filter((l) => l.startsWith('RUN npm ci'))).toEqual([expect.stringContaining('--omit=dev')]);
  });

  it('bakes in no secret: no ENV or ARG with a secret-looking name', () => {
    const names = instructions.filter((l) => /^(ENV|ARG) /.test(l)).flatMap((l) => l.replace(/^(ENV|ARG) /, '').split(/\s+/).map((kv) => kv.split('=')[0] as string));
    expect(names.filter((n) => SECRET_NAME.test(n))).toEqual([]);
  });

  it('copies only paths that exist and that .dockerignore lets in', () => {
    const allowed = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from=')).flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(join(root, source)), source).toBe(true);
      expect(allowed, source).toContain(source.replace(/\/$/, ''));
    }
  });

  it("starts bin/cassette.js with its shebang's heap cap", () => {
    const entrypoint = JSON.parse(instructions.find((l) => l.startsWith('ENTRYPOINT '))?.slice('ENTRYPOINT '.length) ?? '[]') as string[];
    const shebang = readFileSync(join(root, 'bin', 'cassette.js'), 'utf8').split('\n')[0] as string;
    const cap = /--max-old-space-size=\d+/.exec(shebang)?.[0];
    expect(cap).toBeDefined();
    expect(entrypoint).toEqual(['node', cap, '/app/bin/cassette.js']);
    expect(instructions).toContain('WORKDIR /app');
    expect(instructions).toContain('COPY bin ./bin');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };
    expect(pkg.bin.cassette).toBe('bin/cassette.js');
    expect(pkg.files).toEqual(['bin', 'dist']);
  });

  it('the manifests run the same entry point the image has', () => {
    for (const { spec } of jobs) expect(scriptOf(spec)).toContain('node --max-old-space-size=384 /app/bin/cassette.js ');
  });
});

describe('deploy/grafana/cassette-dashboard.json', () => {
  /** The metrics cassette exports (issue 14, item 4). */
  const METRICS = [
    'cassette_rows_total', 'cassette_bytes_total', 'cassette_units_done', 'cassette_units_total', 'cassette_retries_total',
    'cassette_rejects_total', 'cassette_lwt_races_total', 'cassette_request_duration_seconds', 'cassette_backpressure',
  ];
  const dashboard = JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'cassette-dashboard.json'), 'utf8')) as {
    schemaVersion: number; panels: { id: number; title: string; targets: { expr: string }[] }[]; templating: { list: { query: unknown }[] };
  };
  const queries = [
    ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ...dashboard.templating.list.map((v) => (typeof v.query === 'string' ? v.query : JSON.stringify(v.query))),
  ];

  it('is a Grafana dashboard with one panel per view', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    expect(dashboard.panels.map((p) => p.title)).toEqual([
      'Rows/s by worker', 'Bytes/s', 'Progress by worker', 'ETA by worker', 'Backpressure', 'Retries, rejects, LWT races /s', 'Request latency p50 / p99',
    ]);
  });

  it('queries only metrics cassette exports, and every one of them', () => {
    const used = new Set(queries.flatMap((q) => q.match(/\bcassette_[a-z_]+/g) ?? []).map((m) => m.replace(/_(bucket|sum|count)$/, '')));
    expect([...used].filter((m) => !METRICS.includes(m))).toEqual([]);
    expect(METRICS.filter((m) => !used.has(m))).toEqual([]);
  });
});
