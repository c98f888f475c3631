import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveRepository } from '../../src/cli/shared-flags.js';
import { thrown } from '../support/thrown.js';

describe('--encrypt-to, --recipients-file and --identity', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cassette-sealing-flags-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const other = await identityToRecipient(await generateIdentity());
  const file = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('recipients from the flag (repeatable) or a file; the identity from --identity or CASSETTE_AGE_IDENTITY_FILE', () => {
    expect(resolveRepository({ encryptTo: [recipient, other] }, {}).sealing).toEqual({ sealNewTo: { recipients: [recipient, other] } });
    const recipients = file('recipients.txt', `# ops team\n${recipient}\n\n${other}\n`);
    expect(resolveRepository({ recipientsFile: recipients }, {}).sealing).toEqual({ sealNewTo: { recipients: [recipient, other] } });
    const key = file('key.txt', `# created: today\n# public key: ${recipient}\n${identity}\n`);
    expect(resolveRepository({ identity: key }, {}).sealing).toEqual({ identities: { identities: [identity], source: key } });
    expect(resolveRepository({}, { CASSETTE_AGE_IDENTITY_FILE: key }).sealing).toEqual({ identities: { identities: [identity], source: key } });
    expect(resolveRepository({}, {}).sealing).toEqual({});
    const pass = file('pass.txt', 'correct horse\nignored second line\n');
    expect(resolveRepository({ passphraseFile: pass }, {}).sealing).toEqual({ passphrase: { passphrase: 'correct horse', source: pass } });
    expect(resolveRepository({}, { CASSETTE_AGE_PASSPHRASE_FILE: pass }).sealing).toEqual({ passphrase: { passphrase: 'correct horse', source: pass } });
    expect(thrown(() => resolveRepository({ passphraseFile: file('blank.txt', '\nx\n') }, {})).message).toContain('holds no passphrase (its first line is empty)');
  });

  it('refuses what is not an age key, naming where it came from and never echoing a secret', () => {
    expect(thrown(() => resolveRepository({ encryptTo: ['age1notakey'] }, {}))).toMatchObject({ code: 'INVALID_INPUT', message: '--encrypt-to: recipient 1 is not an age public key (age1…)' });
    expect(thrown(() => resolveRepository({ encryptTo: [recipient], recipientsFile: 'x' }, {}))).toMatchObject({ code: 'USAGE' });
    expect(thrown(() => resolveRepository({ recipientsFile: file('empty.txt', '# nobody\n') }, {})).message).toContain('names no age recipient');
    const broken = file('broken.txt', `${identity.slice(0, -3)}xyz\n`);
    const err = thrown(() => resolveRepository({ identity: broken }, {}));
    expect(err).toMatchObject({ code: 'INVALID_INPUT', message: `${broken}: line 1 of its keys is not an age identity (AGE-SECRET-KEY-1…)` });
    expect(err.message + (err.hint ?? '')).not.toContain(identity.slice(20));
    expect(thrown(() => resolveRepository({ identity: join(dir, 'missing.txt') }, {})).message).toBe(`--identity ${join(dir, 'missing.txt')}: cannot read ${join(dir, 'missing.txt')} (ENOENT)`);
    expect(thrown(() => resolveRepository({ identity: file('pub.txt', `${recipient}\n`) }, {})).message).toContain('is not an age identity');
  });
});
