/** Clients for the real test services, built from the settings the global setup provides. */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import cassandra from 'cassandra-driver';
import type { CassandraSettings, S3Settings, SecureCassandraSettings } from './settings.js';

/** A plain client for the unsecured test cluster. Callers shut it down. */
export function cassandraClient(settings: CassandraSettings, keyspace?: string): cassandra.Client {
  return new cassandra.Client({
    contactPoints: [`${settings.host}:${settings.port}`],
    localDataCenter: settings.dc,
    ...(keyspace === undefined ? {} : { keyspace }),
  });
}

/** Options for the secured cluster; each part can be left out to test that it is required. */
export function secureClientOptions(
  settings: SecureCassandraSettings,
  parts: { credentials: boolean; tls: boolean },
): cassandra.ClientOptions {
  const options: cassandra.ClientOptions = {
    contactPoints: [`${settings.host}:${settings.port}`],
    localDataCenter: settings.dc,
    socketOptions: { connectTimeout: 5000, readTimeout: 10000 },
  };
  if (parts.credentials) {
    const password = readFileSync(settings.passwordFile, 'utf8').trim();
    options.authProvider = new cassandra.auth.PlainTextAuthProvider(settings.username, password);
  }
  if (parts.tls) {
    options.sslOptions = { ca: [readFileSync(settings.ca)], servername: 'localhost' };
  }
  return options;
}

/** An S3 client for MinIO: path-style, checksums only when required (see docs/decisions). */
export function s3Client(settings: S3Settings): S3Client {
  return new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    forcePathStyle: true,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A fresh name for a keyspace or key prefix, so test files never collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}
