/**
 * What a directory repository holds, as cassette itself sees it: tests that wait for a CLI run to
 * reach a point (N ranges saved, N chunks restored) count finished blobs through the store's own
 * listing, which skips the `.cassette-tmp-*` files a put writes first — a directory entry is not
 * a finished marker.
 */
import { FsStore } from '../../src/storage/fs-store.js';

/** How many finished blobs lie under `prefix` (a folder ending in `/`, or `''` for all). */
export async function countFinished(repoDir: string, prefix: string): Promise<number> {
  let count = 0;
  for await (const _entry of new FsStore(repoDir).list(prefix)) count++;
  return count;
}
