/**
 * The JavaScript form of a CQL map: its entries in the order Cassandra returns them (key order),
 * with every key kept exactly as decoded.
 *
 * Why not a plain `Map`: it compares keys with SameValueZero and stores `-0` as `0`, so a
 * `map<double, …>` holding both `0.0` and `-0.0` (distinct keys in Cassandra) would lose an entry
 * and its WRITETIME/TTL entries would no longer line up. The driver builds a `CqlMap` for every map
 * it decodes when created with DRIVER_ENCODING (value-codec.ts), and encodes one back through
 * `forEach`, the two methods its `encoding.map` option requires (`set`, `forEach`).
 *
 * It extends `Map` so that code written for the driver's `map: Map` option (`instanceof Map`,
 * `entries()`, `get`) keeps working, but it keeps its own entry list and overrides every method:
 * the inherited internal storage stays empty. Lookups (`get`, `has`, `delete`) compare keys with
 * `Object.is` and are linear: fine for schema option maps, not meant for large maps.
 */
import { inspect } from 'node:util';

export class CqlMap<K = unknown, V = unknown> extends Map<K, V> {
  #keys: K[] = [];
  #values: V[] = [];

  /** A map holding `entries` in the given order (duplicates are kept: the caller's order is the truth). */
  constructor(entries?: Iterable<readonly [K, V]> | null) {
    super();
    if (entries === undefined || entries === null) return;
    for (const [key, value] of entries) this.set(key, value);
  }

  /** Appends an entry. The driver calls this once per decoded entry, in wire order. */
  override set(key: K, value: V): this {
    this.#keys.push(key);
    this.#values.push(value);
    return this;
  }

  /** The number of entries. */
  override get size(): number {
    return this.#keys.length;
  }

  /** The value of the first entry whose key is `Object.is`-equal to `key`. */
  override get(key: K): V | undefined {
    const index = this.#indexOf(key);
    return index < 0 ? undefined : this.#values[index];
  }

  /** Whether an entry's key is `Object.is`-equal to `key`. */
  override has(key: K): boolean {
    return this.#indexOf(key) >= 0;
  }

  /** Removes the first entry whose key is `Object.is`-equal to `key`. */
  override delete(key: K): boolean {
    const index = this.#indexOf(key);
    if (index < 0) return false;
    this.#keys.splice(index, 1);
    this.#values.splice(index, 1);
    return true;
  }

  /** Removes every entry. */
  override clear(): void {
    this.#keys = [];
    this.#values = [];
  }

  /** Calls `callback(value, key, map)` for each entry in order, as `Map#forEach` does. */
  override forEach(callback: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    const keys = this.#keys;
    const values = this.#values;
    for (let i = 0; i < keys.length; i++) callback.call(thisArg, values[i] as V, keys[i] as K, this);
  }

  /** The entries in order. */
  override entries(): MapIterator<[K, V]> {
    return this.#keys.map((key, i): [K, V] => [key, this.#values[i] as V]).values();
  }

  /** The keys in order. */
  override keys(): MapIterator<K> {
    return this.#keys.slice().values();
  }

  /** The values in order. */
  override values(): MapIterator<V> {
    return this.#values.slice().values();
  }

  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  /** util.inspect would otherwise show the (empty) inherited storage. */
  [inspect.custom](): string {
    return `CqlMap(${this.size}) ${inspect(this.#keys.map((key, i) => [key, this.#values[i]]))}`;
  }

  #indexOf(key: K): number {
    for (let i = 0; i < this.#keys.length; i++) if (Object.is(this.#keys[i], key)) return i;
    return -1;
  }
}
