/**
 * Steering a running rotation: the operator's control documents (`rotate pause|resume|throttle`,
 * `--rate`), the backpressure monitor that slows or pauses the write-back when the cluster's read
 * p99 climbs, and the request gate every write-back request passes. A ticker reads the controls and
 * evaluates backpressure every `tickMs` until the job stops.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { consistencyCode } from '../../cassandra/connection/connect.js';
import type { CqlWriteSession } from '../../cassandra/connection/session.js';
import { quoteIdentifier } from '../../cassandra/values/identifiers.js';
import type { RotationJob, RotationTablePlan } from '../../manifest/rotation-format.js';
import { RequestGate } from '../../pipeline/load/request-gate.js';
import { Backpressure } from '../../pipeline/rotate/backpressure.js';
import { ControlReader, sendControl } from '../../pipeline/rotate/control.js';
import { LatencyWindow } from '../../pipeline/rotate/latency.js';
import { measuredSession } from '../../pipeline/rotate/measured-session.js';
import type { RotateDeps, RotateRequest } from './types.js';

export interface Steering {
  /** The gate every write-back request passes (in-flight limit and rate). */
  readonly gate: RequestGate;
  /** The cluster's session, its latencies measured for backpressure. */
  readonly session: CqlWriteSession;
  /** Whether the operator paused the job (as of the last tick). */
  paused(): boolean;
  /** Counts rows written back, for the observed rate. */
  wrote(rows: number): void;
  /** Latencies and the effective rate now, recorded in each range's write-back marker. */
  snapshot(): { readP99Ms: number | null; writeP99Ms: number | null; rate: number | null };
  /** Stops the ticker; resolves once a tick in flight has finished. */
  stop(): Promise<void>;
}

/** Applies a paused job's implicit resume and `--rate`, then starts the ticker. */
export async function startSteering(job: RotationJob, request: RotateRequest, deps: RotateDeps): Promise<Steering> {
  const { store } = deps;
  const { config } = request;
  const jobId = job.jobId;
  const control = new ControlReader(store, jobId);
  await control.poll();
  if (control.state.paused) {
    await sendControl(store, jobId, { action: 'resume', at: new Date(deps.now()).toISOString() }, deps.now());
    deps.progress.note(`rotation ${jobId} was paused; starting it again resumes it`);
  }
  if (request.rate !== undefined) await sendControl(store, jobId, { action: 'throttle', at: new Date(deps.now()).toISOString(), rate: request.rate }, deps.now());
  await control.poll();
  const baseRate = (): number | undefined => {
    const rate = control.state.rate;
    if (rate === null) return undefined;
    return rate ?? config.execution.rate;
  };
  const gate = new RequestGate(request.maxInFlight, baseRate(), deps.now);
  const latency = new LatencyWindow({ now: deps.now });
  const session = measuredSession(deps.cluster.session, latency);
  let writtenThisSecond = 0;
  let observed = 0;
  const backpressure = new Backpressure({
    window: latency,
    gate,
    thresholdMs: config.execution.readP99ThresholdMs,
    pauseOnBackpressure: config.execution.pauseOnBackpressure,
    baseRate,
    observedRate: () => observed,
    now: deps.now,
  });
  const probeTable = job.tables[0] as RotationTablePlan;
  const probeCql = `SELECT ${quoteIdentifier(job.keyVersionColumn)} FROM ${quoteIdentifier(job.keyspace)}.${quoteIdentifier(probeTable.name)} LIMIT 1`;
  let operatorPaused = control.state.paused;
  let stopping = false;
  const tick = async (): Promise<void> => {
    const commands = await control.poll();
    for (const command of commands) {
      if (command.action === 'pause') deps.progress.note(`rotation ${jobId}: pause requested; finishing the ranges in flight`);
      else if (command.action === 'resume') deps.progress.note(`rotation ${jobId}: resumed`);
      else deps.progress.note(`rotation ${jobId}: rate set to ${command.rate === null ? 'unlimited' : `${command.rate} rows/s`}`);
    }
    operatorPaused = control.state.paused;
    observed = writtenThisSecond * (1000 / (request.tickMs ?? 1000));
    writtenThisSecond = 0;
    const event = backpressure.tick();
    deps.progress.observe?.({ kind: 'backpressure', active: backpressure.state !== 'normal' });
    if (event !== undefined) {
      const s = backpressure.snapshot();
      deps.progress.note(`backpressure ${event}: read p99 ${s.readP99Ms?.toFixed(1) ?? '–'} ms (threshold ${s.thresholdMs ?? '–'} ms), rate ${s.effectiveRate === undefined ? 'unlimited' : `${Math.round(s.effectiveRate)} rows/s`}`);
    }
    if (backpressure.needsProbe()) await session.execute(probeCql, [], { consistency: consistencyCode(probeTable.consistency.read) }).catch(() => undefined);
  };
  const ticker = (async () => {
    while (!stopping) {
      await sleep(request.tickMs ?? 1000);
      if (stopping) break;
      await tick().catch((err: unknown) => deps.progress.note(`control: ${(err as Error).message}`));
    }
  })();

  return {
    gate,
    session,
    paused: () => operatorPaused,
    wrote: (rows) => {
      writtenThisSecond += rows;
    },
    snapshot: () => {
      const s = backpressure.snapshot();
      return { readP99Ms: s.readP99Ms ?? null, writeP99Ms: s.writeP99Ms ?? null, rate: s.effectiveRate ?? null };
    },
    stop: async () => {
      stopping = true;
      await ticker.catch(() => undefined);
    },
  };
}
