import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseByteSize, resumeCommand } from '../../src/cli/subcommands/backup.js';
import { CassetteError } from '../../src/errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

function usageError(value: string): CassetteError {
  try {
    parseByteSize(value, '--max-chunk-bytes');
  } catch (err) {
    expect(err).toBeInstanceOf(CassetteError);
    return err as CassetteError;
  }
  throw new Error(`"${value}" was accepted`);
}

describe('parseByteSize', () => {
  it.each([
    ['64MiB', 64 * MiB],
    ['512k', 512 * KiB],
    ['512KiB', 512 * KiB],
    ['1048576', MiB],
    ['65536', 64 * KiB],
    ['64KiB', 64 * KiB],
    ['2g', 2 * GiB],
    ['1GiB', GiB],
    ['8mb', 8 * MiB],
    [' 16 MiB ', 16 * MiB],
  ])('reads %j as %i bytes', (text, bytes) => {
    expect(parseByteSize(text, '--max-chunk-bytes')).toBe(bytes);
  });

  it.each(['1.5G', 'abc', '', '-1', '64 MiB extra', '0x10000', 'MiB', '64TiB', '1e6'])('refuses %j as a usage error naming the flag', (text) => {
    const err = usageError(text);
    expect(err.code).toBe('USAGE');
    expect(err.message).toContain('--max-chunk-bytes');
  });

  it.each(['65535', '63k', '0', '1'])('refuses %j: below 64 KiB', (text) => {
    const err = usageError(text);
    expect(err.code).toBe('USAGE');
    expect(err.message).toBe('--max-chunk-bytes must be at least 64KiB');
  });

  it('accepts every whole number of bytes, KiB, MiB or GiB from 64 KiB (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 4096 }),
      fc.constantFrom(['', 1], ['k', KiB], ['KiB', KiB], ['m', MiB], ['MiB', MiB], ['g', GiB], ['GiB', GiB]),
      (n, [unit, factor]) => {
        const bytes = n * (factor as number);
        const text = `${n}${unit as string}`;
        if (bytes < 64 * KiB) expect(usageError(text).code).toBe('USAGE');
        else expect(parseByteSize(text, '--max-chunk-bytes')).toBe(bytes);
      },
    ));
  });
});

/** What a POSIX shell makes of a command line: the words after `cassette`. */
function shellWords(commandLine: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${commandLine.replace(/^cassette /, '')}`]);
  return out.toString('utf8').split('\0').slice(0, -1);
}

describe('resumeCommand', () => {
  it('appends --resume <id> to the command line', () => {
    expect(resumeCommand(['backup', '--keyspace', 'ks', '--repo', '/backups'], 'ID')).toBe('cassette backup --keyspace ks --repo /backups --resume ID');
  });

  it.each([
    [['backup', '--resume', 'OLD', '--parallel', '8'], 'cassette backup --parallel 8 --resume NEW'],
    [['backup', '--resume=OLD', '--parallel', '8'], 'cassette backup --parallel 8 --resume NEW'],
    [['backup', '--parallel', '8', '--resume', 'OLD'], 'cassette backup --parallel 8 --resume NEW'],
    [['backup', '--resume', 'A', '--resume=B'], 'cassette backup --resume NEW'],
  ])('replaces an earlier resume flag: %j', (argv, expected) => {
    expect(resumeCommand(argv, 'NEW')).toBe(expected);
  });

  it('quotes arguments a shell would change, so that the shell gives them back unchanged', () => {
    const argv = ['backup', '--repo', '/tmp/my backups', '--tables', "o'brien,$HOME", '--keyspace', '', '--x', 'a\tb*?[c]~!;|&`"\\'];
    const line = resumeCommand(argv, '20261122T125144Z-3fa9c1');
    expect(line).toContain("'/tmp/my backups'");
    expect(line).toContain(`'o'\\''brien,$HOME'`);
    expect(shellWords(line)).toEqual([...argv, '--resume', '20261122T125144Z-3fa9c1']);
  });

  it('gives a shell back any argument list unchanged (property)', () => {
    fc.assert(fc.property(fc.array(fc.string({ unit: 'grapheme-ascii', maxLength: 12 }).filter((a) => a !== '--resume' && !a.startsWith('--resume=')), { maxLength: 6 }), (args) => {
      const argv = ['backup', ...args];
      expect(shellWords(resumeCommand(argv, 'ID'))).toEqual([...argv, '--resume', 'ID']);
    }), { numRuns: 60 });
  });
});
