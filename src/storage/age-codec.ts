/**
 * age file encryption (https://age-encryption.org/v1) of repository objects, through the
 * `age-encryption` package: the one adapter that imports it. An object sealed here is a standard
 * age file, readable by the `age` CLI (`age -d -i key.txt object`). Streams stay streams: memory
 * is bounded by age's 64 KiB payload chunks, whatever the object's size.
 *
 * Errors: recipients and identities that are not age keys are INVALID_INPUT naming where they came
 * from (never the key text); an object no identity opens is INVALID_INPUT (the wrong key was
 * given); an object that is not an age file, or whose bytes were changed, is BACKUP_INVALID.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Decrypter, Encrypter, armor, generateIdentity, identityToRecipient } from 'age-encryption';
import { CassetteError } from '../errors.js';
import type { BlobBody } from './blob-store.js';

/** The first line of every age file. */
export const AGE_MAGIC = 'age-encryption.org/v1\n';

/** Public keys objects are sealed to (`age1…`). Any one of their identities opens them. */
export interface AgeRecipients {
  readonly recipients: readonly string[];
}

/** Secret keys (`AGE-SECRET-KEY-1…`) that may open objects. */
export interface AgeIdentities {
  readonly identities: readonly string[];
  /** Where they came from, for messages (a file path or a variable name; never the keys). */
  readonly source: string;
}

/** A passphrase (from a file; never a flag): it seals a backup's own identity with scrypt. */
export interface AgePassphrase {
  readonly passphrase: string;
  /** Where it came from, for messages (a file path; never the passphrase). */
  readonly source: string;
}

/** The passphrase in a passphrase file: its first line. Throws INVALID_INPUT when it is empty. */
export function parsePassphraseFile(text: string, source: string): AgePassphrase {
  const passphrase = text.split('\n')[0]?.replace(/\r$/, '') ?? '';
  if (passphrase === '') throw new CassetteError('INVALID_INPUT', `${source} holds no passphrase (its first line is empty)`, { hint: 'write the passphrase on the first line of the file' });
  return { passphrase, source };
}

/**
 * A new identity for one backup, and that identity sealed with the passphrase (age's scrypt
 * recipient, ASCII-armored): objects are sealed to the identity's recipient, so the slow scrypt
 * runs once per backup and reader, not once per object. `age -d -i wrapped.age` reads it too.
 */
export async function wrapNewIdentity(passphrase: AgePassphrase): Promise<{ recipient: string; wrapped: string }> {
  const identity = await generateIdentity();
  const encrypter = new Encrypter();
  encrypter.setPassphrase(passphrase.passphrase);
  const wrapped = armor.encode(await encrypter.encrypt(identity));
  return { recipient: await identityToRecipient(identity), wrapped };
}

/** The identity `wrapNewIdentity` sealed; INVALID_INPUT naming `what` when the passphrase does not open it. */
export async function unwrapIdentity(wrapped: string, passphrase: AgePassphrase, what: string): Promise<AgeIdentities> {
  const decrypter = new Decrypter();
  decrypter.addPassphrase(passphrase.passphrase);
  try {
    const identity = await decrypter.decrypt(armor.decode(wrapped), 'text');
    return { identities: [identity.trim()], source: passphrase.source };
  } catch {
    throw new CassetteError('INVALID_INPUT', `the passphrase in ${passphrase.source} does not open ${what}`, {
      hint: 'give the passphrase the backup was written with (--passphrase-file FILE or CASSETTE_AGE_PASSPHRASE_FILE)',
    });
  }
}

/** Checks `age1…` recipients; `source` names where they came from. Throws INVALID_INPUT. */
export function checkRecipients(recipients: readonly string[], source: string): AgeRecipients {
  if (recipients.length === 0) throw new CassetteError('INVALID_INPUT', `${source} names no age recipient`, { hint: 'give age1… public keys (age-keygen -y key.txt prints one)' });
  const probe = new Encrypter();
  for (const [i, recipient] of recipients.entries()) {
    try {
      if (!/^age1[0-9a-z]+$/.test(recipient)) throw new Error('not age1');
      probe.addRecipient(recipient);
    } catch {
      throw new CassetteError('INVALID_INPUT', `${source}: recipient ${i + 1} is not an age public key (age1…)`, { hint: 'age-keygen -y key.txt prints the public key of an identity' });
    }
  }
  return { recipients: [...recipients] };
}

/** The recipients of a recipients file: one `age1…` per line, `#` comments and blank lines ignored. */
export function parseRecipientsFile(text: string, source: string): AgeRecipients {
  return checkRecipients(keyLines(text), source);
}

/** The identities of an identity file (what `age-keygen` writes): `AGE-SECRET-KEY-1…` lines. Throws INVALID_INPUT. */
export function parseIdentityFile(text: string, source: string): AgeIdentities {
  const identities = keyLines(text);
  if (identities.length === 0) throw new CassetteError('INVALID_INPUT', `${source} holds no age identity`, { hint: 'give a file written by age-keygen (AGE-SECRET-KEY-1… lines)' });
  const probe = new Decrypter();
  for (const [i, identity] of identities.entries()) {
    try {
      if (!identity.startsWith('AGE-SECRET-KEY-1')) throw new Error('not an identity');
      probe.addIdentity(identity);
    } catch {
      throw new CassetteError('INVALID_INPUT', `${source}: line ${i + 1} of its keys is not an age identity (AGE-SECRET-KEY-1…)`, { hint: 'give a file written by age-keygen' });
    }
  }
  return { identities, source };
}

/** The public keys of identities (to check a backup's recipients against the identity given). */
export async function recipientsOf(identities: AgeIdentities): Promise<string[]> {
  return Promise.all(identities.identities.map((identity) => identityToRecipient(identity)));
}

function keyLines(text: string): string[] {
  return text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

function toWeb(body: BlobBody): WebReadableStream<Uint8Array> | Uint8Array {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return body;
  return Readable.toWeb(body) as WebReadableStream<Uint8Array>;
}

/** `body` sealed to `to`, as a stream of the age file's bytes. */
export async function sealBody(body: BlobBody, to: AgeRecipients): Promise<Readable> {
  const encrypter = new Encrypter();
  for (const recipient of to.recipients) encrypter.addRecipient(recipient);
  const input = toWeb(body);
  if (input instanceof Uint8Array) return Readable.from([Buffer.from(await encrypter.encrypt(input))]);
  // The package types its streams with the DOM's ReadableStream; Node's is the same at run time.
  const output = (await encrypter.encrypt(input as never)) as unknown as WebReadableStream<Uint8Array>;
  return Readable.fromWeb(output);
}

/**
 * The plaintext of the age file `body` (`what` names it in messages), as a stream. Rejects before
 * any byte is read when no identity opens it; a damaged payload makes the stream fail (age
 * authenticates every 64 KiB), so a reader that must not act on damaged data reads it whole first.
 */
export async function openBody(body: Readable, identities: AgeIdentities, what: string): Promise<Readable> {
  const decrypter = new Decrypter();
  for (const identity of identities.identities) decrypter.addIdentity(identity);
  let output: WebReadableStream<Uint8Array>;
  try {
    output = (await decrypter.decrypt(Readable.toWeb(body) as never)) as unknown as WebReadableStream<Uint8Array>;
  } catch (err) {
    body.destroy();
    throw openFailure(err, identities, what);
  }
  const plain = Readable.fromWeb(output);
  return Readable.from((async function* () {
    try {
      for await (const chunk of plain) yield chunk as Buffer;
    } catch (err) {
      throw openFailure(err, identities, what);
    }
  })());
}

function openFailure(err: unknown, identities: AgeIdentities, what: string): unknown {
  if (err instanceof CassetteError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/no identity matched/.test(message)) {
    return new CassetteError('INVALID_INPUT', `${what} is encrypted to other keys than the identity in ${identities.source}`, {
      hint: 'give the identity (age secret key) of one of the backup\'s recipients: --identity FILE or CASSETTE_AGE_IDENTITY_FILE',
    });
  }
  // Keep the repository's own failures (an outage mid-read) as they are.
  if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'REPOSITORY_UNAVAILABLE') return err;
  return new CassetteError('BACKUP_INVALID', `${what} cannot be decrypted: it is damaged or not an age file (${message.split('\n')[0]})`, {
    hint: 'the object was changed or damaged after it was written; use another backup',
  });
}
