import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBase64Strict, decodeHexStrict, keySourceName, readKeyText } from '../../src/crypto/key-material.js';
import { fingerprintVersion } from '../../src/crypto/key-ring.js';
import { CassetteError } from '../../src/errors.js';
import { thrown } from '../support/thrown.js';

const dir = mkdtempSync(join(tmpdir(), 'cassette-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readKeyText', () => {
  it('reads an environment variable as it is', () => {
    expect(readKeyText({ env: 'K' }, { K: ' key text ' })).toBe(' key text ');
  });

  it('names a missing or empty variable and says what to do', () => {
    const missing = thrown(() => readKeyText({ env: 'REKEY_NEW_KEY' }, {}));
    expect(missing).toMatchObject({ code: 'INVALID_INPUT', message: 'environment variable REKEY_NEW_KEY is not set' });
    expect(missing.exitCode).toBe(3);
    expect(missing.hint).toContain('export REKEY_NEW_KEY');
    expect(thrown(() => readKeyText({ env: 'REKEY_NEW_KEY' }, { REKEY_NEW_KEY: '' })).message).toBe('environment variable REKEY_NEW_KEY is empty');
  });

  it('reads a file without its trailing newline and whitespace', () => {
    const file = join(dir, 'key');
    writeFileSync(file, 'line-one-key\r\n  \n');
    expect(readKeyText({ file }, {})).toBe('line-one-key');
  });

  it('names a missing, empty or unreadable file, in one line', () => {
    const absent = join(dir, 'absent.key');
    expect(thrown(() => readKeyText({ file: absent }, {})).message).toBe(`key file ${absent} cannot be read (it does not exist)`);
    const empty = join(dir, 'empty.key');
    writeFileSync(empty, '\n\n');
    expect(thrown(() => readKeyText({ file: empty }, {})).message).toBe(`key file ${empty} is empty`);
    expect(thrown(() => readKeyText({ file: dir }, {})).message).toBe(`key file ${dir} cannot be read (it is a directory)`);
    const denied = (): string => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    };
    expect(thrown(() => readKeyText({ file: '/etc/k' }, {}, denied)).message).toBe('key file /etc/k cannot be read (permission denied)');
  });

  it('names sources for messages', () => {
    expect(keySourceName({ env: 'A' })).toBe('A');
    expect(keySourceName({ file: '/k' })).toBe('key file /k');
  });
});

describe('key text decoding', () => {
  it('reads base64 in both alphabets, padded or not', () => {
    const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x01]);
    for (const text of ['+/+/AQ==', '-_-_AQ==', '+/+/AQ', '-_-_AQ']) expect(decodeBase64Strict(text)).toEqual(bytes);
  });

  it('refuses anything else', () => {
    for (const text of ['', 'AQ=', 'AQ===', 'A', 'AQ==AQ==', 'AQ = =', 'AQ\n', 'AQ*A', 'AQAB=']) expect(decodeBase64Strict(text)).toBeUndefined();
  });

  it('reads hex', () => {
    expect(decodeHexStrict('00ffAB')).toEqual(Buffer.from([0, 255, 171]));
    expect(decodeHexStrict('0')).toBeUndefined();
    expect(decodeHexStrict('0g')).toBeUndefined();
  });

  it('derives versions as fp- and 8 hex digits of SHA-256 of the raw key', () => {
    // sha256 of 32 zero bytes is 66687aad…
    expect(fingerprintVersion(Buffer.alloc(32))).toBe('fp-66687aad');
  });
});
