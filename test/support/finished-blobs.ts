/**
 * What a directory repository holds, as cassette itself sees it: tests that wait for a CLI run to
 * reach a point (N ranges saved, N chunks restored) count finished blobs through the store's own
 * listing, which skips the `.cassette-tmp-*` files a put writes first — a directory entry is not
 * a finished marker.
 */
import { FsStore } from '../../src/storage/fs-store.js';

/** Keys of the finished blobs under `prefix` in the directory repository at `repoDir`. */
export async function finishedKeys(repoDir: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of new FsStore(repoDir).list(prefix)) keys.push(entry.key);
  return keys;
}

/** How many finished blobs lie under `prefix` (a folder ending in `/`, or `''` for all). */
export async function countFinished(repoDir: string, prefix: string): Promise<number> {
  return (await finishedKeys(repoDir, prefix)).length;
}
