/**
 * The data keys an `aws-kms` cipher holds in memory, so that KMS is called per data key and not
 * per value:
 * - {@link UnwrappedKeys}: a bounded LRU of unwrapped data keys keyed by their wrapped bytes (a
 *   wrapped key always opens to the same key), with one KMS call in flight per wrapped key however
 *   many values ask for it at once;
 * - {@link SealingKey}: the data key new values are sealed under, replaced by a fresh one after
 *   `reuse` values (1 = one data key per value, as cassandra-rekey does).
 * Key bytes are zeroed when a key leaves either (eviction, replacement, close).
 */
import type { DataKey, UnwrappedKey } from './key-service.js';

export class UnwrappedKeys {
  readonly #entries = new Map<string, UnwrappedKey>();
  readonly #pending = new Map<string, Promise<UnwrappedKey | undefined>>();
  readonly #capacity: number;
  readonly #unwrap: (wrapped: Buffer) => Promise<UnwrappedKey | undefined>;

  constructor(capacity: number, unwrap: (wrapped: Buffer) => Promise<UnwrappedKey | undefined>) {
    this.#capacity = capacity;
    this.#unwrap = unwrap;
  }

  /** The cached key for `wrapped`, or undefined when it is not cached (no call is made). */
  cached(wrapped: Buffer): UnwrappedKey | undefined {
    const id = wrapped.toString('latin1');
    const hit = this.#entries.get(id);
    if (hit !== undefined) {
      // Most recently used last: Map keeps insertion order.
      this.#entries.delete(id);
      this.#entries.set(id, hit);
    }
    return hit;
  }

  /** The key for `wrapped`, unwrapping it (once, however many callers wait) when not cached. */
  async get(wrapped: Buffer): Promise<UnwrappedKey | undefined> {
    const hit = this.cached(wrapped);
    if (hit !== undefined) return hit;
    const id = wrapped.toString('latin1');
    let pending = this.#pending.get(id);
    if (pending === undefined) {
      pending = this.#unwrap(wrapped).then(
        (key) => {
          this.#pending.delete(id);
          if (key !== undefined) this.#remember(id, key);
          return key;
        },
        (err: unknown) => {
          this.#pending.delete(id);
          throw err;
        },
      );
      this.#pending.set(id, pending);
    }
    return pending;
  }

  /** Caches a key this process generated (a copy), so its own values open without KMS. */
  add(key: DataKey): void {
    this.#remember(key.wrapped.toString('latin1'), { plaintext: Buffer.from(key.plaintext), cmkArn: key.cmkArn });
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    for (const entry of this.#entries.values()) entry.plaintext.fill(0);
    this.#entries.clear();
  }

  #remember(id: string, key: UnwrappedKey): void {
    const old = this.#entries.get(id);
    if (old !== undefined && old !== key) old.plaintext.fill(0);
    this.#entries.delete(id);
    this.#entries.set(id, key);
    while (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.get(oldest)?.plaintext.fill(0);
      this.#entries.delete(oldest);
    }
  }
}

export class SealingKey {
  #current: DataKey | undefined;
  #uses = 0;
  #pending: Promise<DataKey> | undefined;
  readonly #reuse: number;
  readonly #generate: () => Promise<DataKey>;

  constructor(reuse: number, generate: () => Promise<DataKey>) {
    this.#reuse = reuse;
    this.#generate = generate;
  }

  /** The key for the next value when one is ready without a call (counted as used), else undefined. */
  take(): DataKey | undefined {
    if (this.#current === undefined || this.#uses >= this.#reuse) return undefined;
    this.#uses++;
    return this.#current;
  }

  /** The key for the next value, generating a fresh one when the current one is used up. */
  async next(): Promise<DataKey> {
    for (;;) {
      const ready = this.take();
      if (ready !== undefined) return ready;
      this.#pending ??= this.#generate().then(
        (key) => {
          this.#pending = undefined;
          this.#current?.plaintext.fill(0);
          this.#current = key;
          this.#uses = 0;
          return key;
        },
        (err: unknown) => {
          this.#pending = undefined;
          throw err;
        },
      );
      // Many values may wait for one generation; each then takes a use (or waits for the next).
      await this.#pending;
    }
  }

  clear(): void {
    this.#current?.plaintext.fill(0);
    this.#current = undefined;
  }
}
