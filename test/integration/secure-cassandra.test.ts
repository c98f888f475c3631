import { describe, expect, inject, it } from 'vitest';
import cassandra from 'cassandra-driver';
import { secureClientOptions } from '../support/clients.js';

/** Connects, runs one query, and always shuts the client down. */
async function queryWith(options: cassandra.ClientOptions): Promise<string> {
  const client = new cassandra.Client(options);
  try {
    await client.connect();
    const rs = await client.execute('SELECT release_version FROM system.local');
    return rs.first().get('release_version') as string;
  } finally {
    await client.shutdown();
  }
}

describe('secured Cassandra profile (PasswordAuthenticator + client TLS)', () => {
  const settings = inject('services').secure;

  it('accepts username and password over TLS', async () => {
    await expect(queryWith(secureClientOptions(settings, { credentials: true, tls: true }))).resolves.toMatch(/^5\.0\./);
  });

  it('refuses a TLS connection without credentials', async () => {
    const attempt = queryWith(secureClientOptions(settings, { credentials: false, tls: true }));
    await expect(attempt).rejects.toThrow(/authenticat/i);
  });

  it('refuses credentials sent without TLS', async () => {
    const attempt = queryWith(secureClientOptions(settings, { credentials: true, tls: false }));
    await expect(attempt).rejects.toBeInstanceOf(cassandra.errors.NoHostAvailableError);
  });

  it('refuses a wrong password', async () => {
    const options = secureClientOptions(settings, { credentials: false, tls: true });
    options.authProvider = new cassandra.auth.PlainTextAuthProvider(settings.username, 'not-the-password');
    await expect(queryWith(options)).rejects.toThrow(/authenticat|bad credentials|password/i);
  });
});
