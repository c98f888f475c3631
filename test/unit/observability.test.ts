/**
 * Metrics and JSON logs (src/cli/observe/): the metrics sink counts what the progress port
 * reports under the right names and labels, the endpoint serves them, the JSON records parse and
 * carry job/worker/command, and a rekey with real keys logs neither a key nor a value.
 */
import { describe, expect, it } from 'vitest';
import { runRekey } from '../../src/commands/rekey/rekey.js';
import { silentProgress, type ProgressSink } from '../../src/commands/progress.js';
import type { RotationConfig } from '../../src/config/rotation-types.js';
import type { CipherContext, KeySpec } from '../../src/crypto/cipher.js';
import { createCipher } from '../../src/crypto/registry.js';
import { CassetteError } from '../../src/errors.js';
import { describeFailure } from '../../src/cli/exit.js';
import { JsonLogProgress, jsonLogger, logFailure } from '../../src/cli/observe/json-log.js';
import { RunMetrics, metricsSink, serveMetrics } from '../../src/cli/observe/metrics.js';
import { timedSession, timedStore } from '../../src/cli/observe/timed.js';
import { withObservability } from '../../src/cli/observe/observability.js';
import type { FailureOutput, ProgramContext } from '../../src/cli/context.js';
import { inProcessTransformer } from '../../src/pipeline/transform/transformer.js';
import { MemoryStore } from '../support/fakes/memory-store.js';
import { keyspaceSchema, tableSchema, writeSyntheticBackup } from '../support/synthetic-backup.js';

const labels = { worker: 'host-a/4242', command: 'backup' };

/** The value of one series in Prometheus text, by its exact label set; undefined when absent. */
function sample(text: string, name: string, want: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] as string).matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.keys(want).length === Object.keys(got).length && Object.entries(want).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** A sink that records the calls passed on to it. */
function recording(): ProgressSink & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    start: (plan) => calls.push(`start ${plan.title}`),
    skip: (part, units) => calls.push(`skip ${part} ${units}`),
    rows: (part, rows, bytes) => calls.push(`rows ${part} ${rows} ${bytes}`),
    unitDone: (part, unit) => calls.push(`done ${part} ${unit ?? ''}`),
    note: (line) => calls.push(`note ${line}`),
    waiting: (subject, line) => calls.push(`waiting ${subject} ${line ?? '-'}`),
    observe: (event) => calls.push(`observe ${event.kind}`),
    stop: () => calls.push('stop'),
  };
}

describe('metrics', () => {
  it('counts rows, bytes, units, retries, rejects, races and backpressure by job, worker, command and table', async () => {
    const metrics = new RunMetrics(labels, { defaults: false });
    const inner = recording();
    const sink = metricsSink(inner, metrics);
    sink.start({ title: 'backup J1', job: 'J1', unitName: 'ranges', parts: [{ name: 'users', units: 4 }, { name: 'orders', units: 2 }] });
    sink.skip('users', 1);
    sink.rows('users', 2000, 100_000);
    sink.rows('users', 500, 25_000);
    sink.rows('orders', 7, 0);
    sink.unitDone('users', '1');
    sink.waiting?.('range 3', 'waiting for Cassandra replicas of range 3: timeout (retrying for up to 4m more)');
    sink.waiting?.('range 3', 'waiting for Cassandra replicas of range 3: timeout (retrying for up to 3m more)');
    sink.waiting?.('range 3', undefined);
    sink.observe?.({ kind: 'retry' });
    sink.observe?.({ kind: 'rejects', part: 'users', count: 3 });
    sink.observe?.({ kind: 'races', part: 'users', count: 2 });
    sink.observe?.({ kind: 'backpressure', active: true });
    metrics.observe('read', 0.004);
    metrics.observe('read', 0.2);
    sink.note('a note');
    sink.stop();

    const text = await metrics.text();
    const users = { job: 'J1', worker: 'host-a/4242', command: 'backup', table: 'users' };
    const run = { job: 'J1', worker: 'host-a/4242', command: 'backup' };
    expect(sample(text, 'cassette_rows_total', users)).toBe(2500);
    expect(sample(text, 'cassette_bytes_total', users)).toBe(125_000);
    expect(sample(text, 'cassette_rows_total', { ...users, table: 'orders' })).toBe(7);
    expect(sample(text, 'cassette_units_total', users)).toBe(4);
    expect(sample(text, 'cassette_units_done', users)).toBe(2);
    expect(sample(text, 'cassette_units_done', { ...users, table: 'orders' })).toBe(0);
    expect(sample(text, 'cassette_retries_total', run)).toBe(3); // two failed attempts waited out, one re-read
    expect(sample(text, 'cassette_rejects_total', run)).toBe(3);
    expect(sample(text, 'cassette_lwt_races_total', run)).toBe(2);
    expect(sample(text, 'cassette_backpressure', run)).toBe(1);
    expect(sample(text, 'cassette_request_duration_seconds_count', { ...run, op: 'read' })).toBe(2);
    expect(sample(text, 'cassette_request_duration_seconds_bucket', { ...run, op: 'read', le: '0.005' })).toBe(1);
    expect(text).toMatch(/^# TYPE cassette_rows_total counter$/m);
    expect(text).toMatch(/^# TYPE cassette_request_duration_seconds histogram$/m);
    // Every call reaches the sink that shows progress, unchanged.
    expect(inner.calls).toEqual([
      'start backup J1', 'skip users 1', 'rows users 2000 100000', 'rows users 500 25000', 'rows orders 7 0', 'done users 1',
      'waiting range 3 waiting for Cassandra replicas of range 3: timeout (retrying for up to 4m more)',
      'waiting range 3 waiting for Cassandra replicas of range 3: timeout (retrying for up to 3m more)', 'waiting range 3 -',
      'observe retry', 'observe rejects', 'observe races', 'observe backpressure', 'note a note', 'stop',
    ]);
  });

  it('a next round (rotate) resets its units; the process metrics carry the cassette_ prefix', async () => {
    const metrics = new RunMetrics({ worker: 'h/1', command: 'rotate' });
    const sink = metricsSink(silentProgress, metrics);
    sink.start({ title: 'rotate R', job: 'R', unitName: 'ranges', parts: [{ name: 't', units: 8 }] });
    for (let i = 0; i < 8; i++) sink.unitDone('t');
    sink.start({ title: 'rotate R (round 2)', job: 'R', unitName: 'ranges', parts: [{ name: 't', units: 2 }] });
    sink.unitDone('t');
    const text = await metrics.text();
    const t = { job: 'R', worker: 'h/1', command: 'rotate', table: 't' };
    expect([sample(text, 'cassette_units_done', t), sample(text, 'cassette_units_total', t)]).toEqual([1, 2]);
    expect(text).toMatch(/^cassette_process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^cassette_nodejs_eventloop_lag_seconds /m);
  });

  it('serves /metrics over HTTP on a port the OS picks, 404 elsewhere, and closes', async () => {
    const metrics = new RunMetrics(labels, { defaults: false });
    metrics.rows('users', 5, 10);
    const endpoint = await serveMetrics(metrics, '127.0.0.1', 0);
    try {
      expect(endpoint.port).toBeGreaterThan(0);
      const res = await fetch(`http://127.0.0.1:${endpoint.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(sample(await res.text(), 'cassette_rows_total', { job: '', worker: 'host-a/4242', command: 'backup', table: 'users' })).toBe(5);
      expect((await fetch(`http://127.0.0.1:${endpoint.port}/`)).status).toBe(404);
    } finally {
      await endpoint.close();
    }
    await expect(fetch(`http://127.0.0.1:${endpoint.port}/metrics`)).rejects.toThrow();
  });

  it('refuses a port it cannot listen on (exit 3, naming it) and closes the endpoint when the command ends', async () => {
    const taken = await serveMetrics(new RunMetrics(labels, { defaults: false }), '127.0.0.1', 0);
    const failureOutput: FailureOutput = {};
    const context: ProgramContext = { version: 't', env: {}, argv: [], signal: new AbortController().signal, stdout: () => undefined, failureOutput };
    try {
      const err = await withObservability({ metricsPort: String(taken.port), metricsHost: '127.0.0.1' }, context, 'backup', () => Promise.resolve()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CassetteError);
      expect(err).toMatchObject({ code: 'INVALID_INPUT', message: `cannot serve metrics on 127.0.0.1:${taken.port}: EADDRINUSE` });
    } finally {
      await taken.close();
    }
    let port = 0;
    const stderr = process.stderr.write;
    process.stderr.write = ((text: string) => { port = Number(/:(\d+)\/metrics/.exec(text)?.[1]); return true; }) as typeof process.stderr.write;
    try {
      await withObservability({ metricsPort: '0', metricsHost: '127.0.0.1' }, context, 'backup', async () => {
        expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
      });
    } finally {
      process.stderr.write = stderr;
    }
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    expect(failureOutput.json).toBeUndefined(); // text logs: main.ts prints the failure as lines
    await expect(withObservability({ logFormat: 'xml' }, context, 'backup', () => Promise.resolve())).rejects.toMatchObject({ code: 'USAGE' });
    await withObservability({ logFormat: 'json' }, context, 'backup', () => Promise.resolve());
    expect([typeof failureOutput.json, typeof failureOutput.notice]).toEqual(['function', 'function']); // main.ts writes them as records
  });

  it('times session requests (SELECT = read, else write) and store puts, failures included', async () => {
    const seen: string[] = [];
    const record = (op: string, seconds: number): void => { seen.push(op); expect(seconds).toBeGreaterThanOrEqual(0); };
    const session = timedSession({
      execute: (cql) => (cql.startsWith('DELETE') ? Promise.reject(new Error('timeout')) : Promise.resolve({ rows: [] })),
      batch: () => Promise.resolve({ rows: [] }),
    }, record);
    await session.execute(' select * from t');
    await session.execute('INSERT INTO t (a) VALUES (?)', [1]);
    await expect(session.execute('DELETE FROM t')).rejects.toThrow('timeout');
    await session.batch([]);
    const store = timedStore(new MemoryStore(), record);
    await store.put('a/b', 'x');
    await store.head('a/b');
    expect(seen).toEqual(['read', 'write', 'write', 'write', 'store']);
  });
});

/** A pino destination that keeps what is written. */
function capture(): { write(line: string): void; text(): string; records(): Record<string, unknown>[] } {
  const lines: string[] = [];
  return {
    write: (line: string) => { lines.push(line); },
    text: () => lines.join(''),
    records: () => lines.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('JSON logs', () => {
  it('writes one parseable record per line with job, worker, command, and table/range for units', () => {
    const out = capture();
    const log = jsonLogger(labels, out);
    const sink = new JsonLogProgress(log, 60_000);
    sink.note('before the plan');
    sink.start({ title: 'backup J2', job: 'J2', unitName: 'ranges', parts: [{ name: 'users', units: 2 }] });
    sink.rows('users', 10, 100);
    sink.unitDone('users', '7');
    sink.note('warning: something to look at');
    sink.waiting('repository', 'waiting for the repository s3://b: connection refused (retrying for up to 5m more)');
    sink.waiting('repository', undefined);
    sink.observe({ kind: 'rejects', part: 'users', count: 2 });
    sink.stop();
    const records = out.records();
    expect(out.text().split('\n').filter((l) => l !== '')).toHaveLength(records.length);
    for (const r of records) expect(r).toMatchObject({ worker: 'host-a/4242', command: 'backup' });
    expect(records[0]).toMatchObject({ job: null, level: 'info', msg: 'before the plan' });
    expect(records.slice(1).every((r) => r.job === 'J2')).toBe(true);
    expect(records.find((r) => r.event === 'done')).toMatchObject({ table: 'users', range: '7', msg: 'range done' });
    expect(records.find((r) => r.event === 'note' && r.level === 'warn')?.msg).toBe('warning: something to look at');
    expect(records.filter((r) => r.event === 'waiting' || r.event === 'resumed').map((r) => r.level)).toEqual(['warn', 'info']);
    expect(records.find((r) => r.event === 'rejects')).toMatchObject({ table: 'users', count: 2 });
    expect(records.at(-1)).toMatchObject({ event: 'progress', unitsDone: 1, unitsTotal: 2, rows: 10, bytes: 100 });
    expect(typeof records[0]?.time).toBe('string');
  });

  it('writes the failure that ends a run as one error record with its exit status and hint', () => {
    const out = capture();
    const log = jsonLogger({ worker: 'h/1', command: 'restore' }, out);
    log.setJob('R1');
    const failure = describeFailure(new CassetteError('INVALID_INPUT', 'restore R1 of backup B not found', { hint: 'check the ids with `cassette status`' }));
    logFailure(log.logger, failure);
    const records = out.records();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      level: 'error', job: 'R1', worker: 'h/1', command: 'restore', msg: 'restore R1 of backup B not found', hint: 'check the ids with `cassette status`', exitCode: failure.exitCode,
    });
  });

  it('a rekey with real Fernet keys logs neither a key, a value nor a row key', async () => {
    const OLD = 'UO5C_3FbjDviMCYnE6nIrBEV1g5cAaGBGMmMnLALimA=';
    const NEW = 'O0rU68uL3K5PaV1OHMQmzk7G-BoxHL8VMYbn1OgHutQ=';
    const env = { OBS_OLD: OLD, OBS_NEW: NEW };
    const key = (name: string, version: string): KeySpec => ({ source: { env: name }, version });
    const sealer = await createCipher({ type: 'fernet', newKey: key('OBS_OLD', '1'), oldKeys: [key('OBS_OLD', '1')], options: {} }, env);
    const context: CipherContext = { keyspace: 'app', table: 'users', column: 'ssn' };
    const secretText = (i: number): string => `ssn-plaintext-${i}`;
    const rows = await Promise.all(Array.from({ length: 12 }, async (_, i) => ({
      k: [`tenant-secret-${i}`, i],
      c: {
        ssn: { v: (await sealer.seal(Buffer.from(secretText(i)), context)).toString('base64'), t: 1_000 + i },
        key_version: { v: '1', t: 1_000 },
        // One value no configured key opens: quarantined, and named in the report, never in the logs.
        ...(i === 5 ? { ssn: { v: Buffer.from('not-a-fernet-token-secret').toString('base64'), t: 5 } } : {}),
      },
    })));
    const store = new MemoryStore();
    const schema = keyspaceSchema('app', [tableSchema('users', [['tenant', 'text', 'partition_key'], ['id', 'int', 'partition_key'], ['ssn', 'blob', 'regular'], ['key_version', 'text', 'regular']])]);
    await writeSyntheticBackup(store, '20261122T120000Z-000001', schema, [{ name: 'users', ranges: [[rows.slice(0, 6)], [rows.slice(6)]] }]);
    const config: RotationConfig = {
      file: 'rekey.yaml',
      cluster: { contactPoints: ['127.0.0.1'], keyspace: 'app' },
      provider: { type: 'fernet', newKey: key('OBS_NEW', '2'), oldKeys: [key('OBS_OLD', '1')], options: {} },
      keyVersionColumn: 'key_version',
      tables: [{ name: 'users', encryptedColumns: ['ssn'], preserveTtl: true, preserveWritetime: true, useLwtGuard: false, consistency: { read: 'LOCAL_QUORUM', write: 'LOCAL_QUORUM' } }],
      execution: { workers: 2, pauseOnBackpressure: false },
    };
    const cipher = await createCipher(config.provider, env);
    const out = capture();
    const log = jsonLogger({ worker: 'h/1', command: 'rekey' }, out);
    const metrics = new RunMetrics({ worker: 'h/1', command: 'rekey' }, { defaults: false });
    const report = await runRekey({ backupId: '20261122T120000Z-000001', config, dryRun: false, allowFailures: 1 }, {
      store, cipher, transformer: inProcessTransformer(store, cipher), progress: metricsSink(new JsonLogProgress(log), metrics),
      signal: new AbortController().signal, now: Date.now, toolVersion: 'test', resumeHint: (id) => `cassette rekey --resume ${id}`,
    });
    expect(report).toMatchObject({ valuesRotated: 11, valuesQuarantined: 1 });
    const records = out.records();
    expect(records.filter((r) => r.event === 'done')).toHaveLength(2);
    expect(records.every((r) => r.job === null || r.job === report.backupId)).toBe(true);
    const text = out.text() + (await metrics.text());
    const secrets = [OLD, NEW, OLD.slice(0, 16), NEW.slice(0, 16), 'ssn-plaintext', 'tenant-secret', 'not-a-fernet-token', ...rows.map((r) => r.c.ssn.v.slice(0, 24))];
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});
