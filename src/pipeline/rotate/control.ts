/**
 * Operator commands to a rotation job, as write-once documents under `rotations/<job>/control/`
 * (docs/format.md §9): `rotate pause`, `rotate resume` and `rotate throttle --rate N` each write
 * one; the running job reads new ones every second. Names sort by time, so the latest of each
 * kind wins and the folder is the job's control history.
 */
import { randomBytes } from 'node:crypto';
import { FORMAT_VERSION } from '../../manifest/format.js';
import { controlFolder, controlKey } from '../../manifest/keys.js';
import { readDocument, writeDocument } from '../../manifest/repository.js';
import { ControlCommand } from '../../manifest/rotation-format.js';
import type { BlobStore } from '../../storage/blob-store.js';

/** What the control history says now. */
export interface ControlState {
  readonly paused: boolean;
  /** The operator's rows/s (`rotate throttle`); undefined when never set, null when lifted. */
  readonly rate: number | null | undefined;
}

function stamp(nowMs: number): string {
  return new Date(nowMs).toISOString().replace(/[-:]/g, '').replace('.', '');
}

/** Records a command for the job. */
export async function sendControl(store: BlobStore, jobId: string, command: ControlCommand, nowMs: number): Promise<string> {
  const key = controlKey(jobId, stamp(nowMs), `${command.action}-${randomBytes(3).toString('hex')}`);
  await writeDocument(store, key, { formatVersion: FORMAT_VERSION, ...command });
  return key;
}

/** Reads control documents in order, remembering what it has seen, and folds them into a state. */
export class ControlReader {
  readonly #store: BlobStore;
  readonly #jobId: string;
  readonly #seen = new Set<string>();
  #state: ControlState = { paused: false, rate: undefined };

  constructor(store: BlobStore, jobId: string) {
    this.#store = store;
    this.#jobId = jobId;
  }

  get state(): ControlState {
    return this.#state;
  }

  /** Reads commands not seen yet; returns them in order (the state already reflects them). */
  async poll(): Promise<ControlCommand[]> {
    const fresh: ControlCommand[] = [];
    for await (const entry of this.#store.list(controlFolder(this.#jobId))) {
      if (this.#seen.has(entry.key) || !entry.key.endsWith('.json')) continue;
      this.#seen.add(entry.key);
      const command = await readDocument(this.#store, entry.key, ControlCommand, `control document ${entry.key}`);
      if (command === undefined) continue;
      fresh.push(command);
      if (command.action === 'pause') this.#state = { ...this.#state, paused: true };
      else if (command.action === 'resume') this.#state = { ...this.#state, paused: false };
      else this.#state = { ...this.#state, rate: command.rate };
    }
    return fresh;
  }
}
