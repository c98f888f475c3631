/**
 * `--metrics-port` and `--log-format json` on the real Cassandra: a backup of a 120k-row table
 * serves its metrics while it runs (scraped mid-run: names, labels, rows growing), and every line
 * it writes on stderr is a JSON record with its job and worker; the last progress record's rows
 * match the report. A restore of that backup does the same, with its write latency measured.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cliEnv } from '../support/cassette.js';
import { cassandraClient, uniqueName } from '../support/clients.js';
import { createEventsKeyspace } from '../support/backup-dataset.js';
import { finished, start, type RunningCli } from '../support/crash-points.js';

const ROWS = 120_000;
/**
 * The --splits asked for. The plan may hold a few more ranges (ranges never cross a ring token, and
 * the test node's tokens are random): the report's `ranges` is the planned count.
 */
const SPLITS = 32;

interface Report { backupId: string; rows: number; bytes: number; ranges: number }
type LogRecord = Record<string, unknown>;

/** Parses every non-empty stderr line; a line that is not JSON fails the test. */
function records(text: string): LogRecord[] {
  return text.split('\n').filter((line) => line !== '').map((line) => {
    try {
      return JSON.parse(line) as LogRecord;
    } catch {
      throw new Error(`not a JSON record: ${line}`);
    }
  });
}

/** The value of one series by name and (a subset of) its labels, summed over the matches; undefined when none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] as string).matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total = (total ?? 0) + Number(m[3]);
  }
  return total;
}

/** Polls `get` every 20 ms until it returns something, failing when the run ends first or after 60 s. */
async function until<T>(run: RunningCli, what: string, get: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await get();
    if (value !== undefined) return value;
    if (run.exited()) throw new Error(`the run ended before ${what}:\n${run.stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('metrics and JSON logs of a running backup', () => {
  const services = inject('services');
  const work = mkdtempSync(join(tmpdir(), 'cassette-obs-'));
  const keyspace = uniqueName('it_obs');
  const restored = `${keyspace}_r`;
  let client: cassandra.Client;
  /** The backup the first test makes, restored by the second. */
  let backupId: string | undefined;
  const connection = (): string[] => ['--hosts', services.cassandra.host, '--port', String(services.cassandra.port), '--dc', services.cassandra.dc];

  beforeAll(async () => {
    client = cassandraClient(services.cassandra);
    await client.connect();
    await createEventsKeyspace(client, keyspace, ROWS, { perPartition: 4 });
  }, 300_000);

  afterAll(async () => {
    await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
    await client?.execute(`DROP KEYSPACE IF EXISTS ${restored}`).catch(() => undefined);
    await client?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('serves growing cassette_* metrics while it runs and logs JSON records with job and worker', async () => {
    const run = start(['backup', '--repo', join(work, 'repo'), '--keyspace', keyspace, ...connection(),
      '--splits', String(SPLITS), '--parallel', '1', '--fetch-size', '200',
      '--metrics-port', '0', '--metrics-host', '127.0.0.1', '--log-format', 'json', '--json'], cliEnv());
    const worker = `${hostname()}/${String(run.child.pid)}`;

    // The port the OS picked, from the first record.
    const port = await until(run, 'the metrics record', () => {
      const first = run.stderr().split('\n')[0];
      if (first === undefined || !first.endsWith('}')) return undefined;
      const record = JSON.parse(first) as LogRecord;
      expect(record).toMatchObject({ event: 'metrics', worker, command: 'backup' });
      return record.port as number;
    });
    const scrape = async (): Promise<string | undefined> => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      return res?.ok === true ? res.text() : undefined;
    };

    // Mid-run: rows counted, then more rows.
    const first = await until(run, 'cassette_rows_total > 0', async () => {
      const text = await scrape();
      return text !== undefined && (sample(text, 'cassette_rows_total') ?? 0) > 0 ? text : undefined;
    });
    const rowsFirst = sample(first, 'cassette_rows_total') as number;
    expect(rowsFirst).toBeLessThan(ROWS);
    const later = await until(run, 'cassette_rows_total to grow', async () => {
      const text = await scrape();
      return text !== undefined && (sample(text, 'cassette_rows_total') ?? 0) > rowsFirst ? text : undefined;
    });
    expect(run.exited()).toBe(false);

    const job = /cassette_rows_total\{job="([^"]+)"/.exec(later)?.[1] as string;
    const table = { job, worker, command: 'backup', table: 'events' };
    const labelled = { job, worker, command: 'backup' };
    expect(sample(later, 'cassette_rows_total', table)).toBeGreaterThan(rowsFirst);
    expect(sample(later, 'cassette_bytes_total', table)).toBeGreaterThan(0);
    const planned = sample(later, 'cassette_units_total', table) as number;
    expect(planned).toBeGreaterThanOrEqual(SPLITS);
    expect(sample(later, 'cassette_units_done', table)).toBeLessThan(planned);
    expect(sample(later, 'cassette_backpressure', labelled)).toBe(0);
    expect(sample(later, 'cassette_request_duration_seconds_count', { ...labelled, op: 'read' })).toBeGreaterThan(0);
    expect(sample(later, 'cassette_request_duration_seconds_bucket', { ...labelled, op: 'read', le: '+Inf' })).toBeGreaterThan(0);
    // backup.json and the schema were put before the plan named the job: job="" (docs/config.md).
    expect(sample(later, 'cassette_request_duration_seconds_count', { worker, command: 'backup', op: 'store' })).toBeGreaterThan(0);
    for (const name of ['cassette_retries_total', 'cassette_rejects_total', 'cassette_lwt_races_total']) expect(later).toContain(`# TYPE ${name} counter`);
    expect(later).toMatch(/^cassette_process_resident_memory_bytes \d/m);

    const report = await finished<Report>(run);
    expect(report).toMatchObject({ backupId: job, rows: ROWS, ranges: planned });
    backupId = report.backupId;

    // After the exit: every stderr line is a record of this job and worker; no value in any of them.
    const logged = records(run.stderr());
    for (const r of logged) expect(r).toMatchObject({ worker, command: 'backup' });
    const started = logged.findIndex((r) => r.event === 'start');
    expect(started).toBeGreaterThan(0);
    expect(logged.slice(started).every((r) => r.job === report.backupId)).toBe(true);
    const done = logged.filter((r) => r.event === 'done');
    expect(done.map((r) => r.table)).toEqual(Array(planned).fill('events'));
    expect(new Set(done.map((r) => r.range)).size).toBe(planned);
    expect(logged.filter((r) => r.event === 'progress').at(-1)).toMatchObject({ unitsDone: planned, unitsTotal: planned, rows: report.rows });
    expect(run.stderr()).not.toContain('payload-');
  }, 120_000);

  it('a restore serves its write latency and rows while it runs, and logs its chunks as records', async () => {
    expect(backupId, 'the backup test ran first').toBeDefined();
    const run = start(['restore', backupId as string, '--repo', join(work, 'repo'), '--target-keyspace', restored, ...connection(),
      '--parallel', '1', '--max-in-flight', '8', '--metrics-port', '0', '--metrics-host', '127.0.0.1', '--log-format', 'json', '--json'], cliEnv());
    const worker = `${hostname()}/${String(run.child.pid)}`;
    const port = await until(run, 'the metrics record', () => {
      const first = run.stderr().split('\n')[0];
      return first === undefined || !first.endsWith('}') ? undefined : (JSON.parse(first) as LogRecord).port as number;
    });
    const scrape = async (): Promise<string | undefined> => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      return res?.ok === true ? res.text() : undefined;
    };
    const first = await until(run, 'restored rows', async () => {
      const text = await scrape();
      return text !== undefined && (sample(text, 'cassette_rows_total', { command: 'restore' }) ?? 0) > 0 ? text : undefined;
    });
    const rowsFirst = sample(first, 'cassette_rows_total') as number;
    const later = await until(run, 'more restored rows', async () => {
      const text = await scrape();
      return text !== undefined && (sample(text, 'cassette_rows_total') ?? 0) > rowsFirst ? text : undefined;
    });
    const job = /cassette_rows_total\{job="([^"]+)"/.exec(later)?.[1] as string;
    const labelled = { job, worker, command: 'restore' };
    expect(sample(later, 'cassette_rows_total', { ...labelled, table: 'events' })).toBeGreaterThan(rowsFirst);
    expect(sample(later, 'cassette_request_duration_seconds_count', { ...labelled, op: 'write' })).toBeGreaterThan(0);
    expect(sample(later, 'cassette_units_total', { ...labelled, table: 'events' })).toBeGreaterThan(0);

    const report = await finished<{ restoreId: string; written: number; rejected: number }>(run);
    expect(report).toMatchObject({ restoreId: job, written: ROWS, rejected: 0 });
    const logged = records(run.stderr());
    for (const r of logged) expect(r).toMatchObject({ worker, command: 'restore' });
    const done = logged.filter((r) => r.event === 'done');
    expect(done.length).toBeGreaterThan(0);
    for (const r of done) expect(r).toMatchObject({ job, table: 'events', range: expect.stringMatching(/^\d+\/\d+$/) as unknown });
    expect(logged.filter((r) => r.event === 'progress').at(-1)).toMatchObject({ unitsDone: done.length, unitsTotal: done.length, rows: ROWS });
  }, 120_000);
});
