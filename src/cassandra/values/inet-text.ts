/**
 * Text of `inet` values (format.md §6.3): a dotted quad for a 4-byte address, RFC 5952 for a
 * 16-byte one. The text keeps the byte length: a 16-byte IPv4-mapped address is written
 * `::ffff:a.b.c.d` (RFC 5952 §5) and parses back to 16 bytes, never to 4.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** RFC 5952 text of a 4- or 16-byte address. */
export function formatInet(bytes: Buffer): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  // The longest run of zero groups (the first of equals) becomes "::"; never a single group (§4.2.2).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/**
 * The bytes of an address: 4 for a dotted quad, 16 for any IPv6 text (mixed notation, upper case,
 * uncompressed all accepted). Undefined when the text is neither, or has a zone (`%eth0`).
 */
export function parseInet(text: string): Buffer | undefined {
  if (isIPv4(text)) return Buffer.from(text.split('.').map(Number));
  if (!isIPv6(text) || text.includes('%')) return undefined;
  const gap = text.indexOf('::');
  const head = ipv6Groups(gap < 0 ? text : text.slice(0, gap));
  const tail = gap < 0 ? [] : ipv6Groups(text.slice(gap + 2));
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(group, i * 2));
  return bytes;
}

/** The 16-bit groups of one side of "::" in text node:net has validated (a dotted quad is two). */
function ipv6Groups(part: string): number[] {
  if (part === '') return [];
  const groups: number[] = [];
  for (const piece of part.split(':')) {
    if (piece.includes('.')) {
      const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
      groups.push((a << 8) | b, (c << 8) | d);
    } else {
      groups.push(parseInt(piece, 16));
    }
  }
  return groups;
}
