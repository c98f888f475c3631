/**
 * Python `cryptography` as the reference the interop tests compare cassette against. The
 * interpreter is CASSETTE_TEST_PYTHON (scripts/test exports it from scripts/python-env), else
 * scripts/python-env is run here; when neither gives one, the helpers throw — interop tests are
 * never skipped. Each helper runs ONE Python process for its whole batch: values travel as JSON
 * with base64 on stdin/stdout, and keys through the child's environment (never argv, which `ps`
 * shows).
 */
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const KEYS_VARIABLE = 'CASSETTE_TEST_FERNET_KEYS';

// The one Python program: `op` is encrypt or decrypt, with the Fernet keys from the
// environment (several keys: MultiFernet, which seals with the first and opens with any).
const FERNET_PROGRAM = `
import base64, json, os, sys
from cryptography.fernet import Fernet, MultiFernet, InvalidToken
keys = [Fernet(k) for k in json.loads(os.environ["${KEYS_VARIABLE}"])]
f = keys[0] if len(keys) == 1 else MultiFernet(keys)
request = json.load(sys.stdin)
out = []
if request["op"] == "encrypt":
    for value in request["values"]:
        out.append(f.encrypt(base64.b64decode(value)).decode("ascii"))
else:
    for token in request["values"]:
        try:
            out.append(base64.b64encode(f.decrypt(token.encode("utf-8"))).decode("ascii"))
        except InvalidToken:
            out.append(None)
json.dump(out, sys.stdout)
`;

const resolved = new Map<string, string>();

/**
 * The python of a venv made by one of the repo's scripts (`script`, under scripts/), unless
 * `variable` names one; throws with the script's last line of reason when there is none.
 */
function venvPython(script: string, variable: string, what: string): string {
  const fromEnv = process.env[variable];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const known = resolved.get(script);
  if (known !== undefined) return known;
  let path: string;
  try {
    path = execFileSync(fileURLToPath(new URL(`../../scripts/${script}`, import.meta.url)), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    const stderr = (err as { stderr?: unknown }).stderr;
    const reason = typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim().split('\n').at(-1) : String(err);
    throw new Error(`no Python with ${what} (set ${variable} or fix scripts/${script}): ${reason}`);
  }
  if (path === '') throw new Error(`scripts/${script} printed no python path`);
  resolved.set(script, path);
  return path;
}

/** The Python with the pinned `cryptography`; throws with the reason when there is none. */
export function pythonPath(): string {
  return venvPython('python-env', 'CASSETTE_TEST_PYTHON', 'cryptography for the interop tests');
}

/** Runs a Python program with `input` on stdin and `env` added; resolves its stdout. */
function runPython(program: string, input: string, env: Record<string, string> = {}): Promise<string> {
  return runPythonWith(pythonPath(), program, input, env);
}

function runPythonWith(python: string, program: string, input: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-I', '-c', program], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => reject(new Error(`cannot run ${python}: ${error.message}`)));
    // If Python dies early, writing fails with EPIPE; the exit handler reports why.
    child.stdin.on('error', () => undefined);
    child.on('close', (code, signal) => {
      if (code === 0) {
        resolve(Buffer.concat(out).toString('utf8'));
        return;
      }
      const lines = Buffer.concat(err).toString('utf8').trim().split('\n');
      reject(new Error(`python exited with ${code ?? signal}: ${lines.at(-1) ?? ''}`));
    });
    child.stdin.end(input);
  });
}

function keyList(keyText: string | readonly string[]): string {
  return JSON.stringify(typeof keyText === 'string' ? [keyText] : keyText);
}

/**
 * Python's Fernet tokens for the plaintexts, in order. Several keys: MultiFernet, which seals
 * under the first.
 */
export async function fernetEncryptInPython(keyText: string | readonly string[], plaintexts: readonly Buffer[]): Promise<string[]> {
  const request = JSON.stringify({ op: 'encrypt', values: plaintexts.map((p) => p.toString('base64')) });
  const out = JSON.parse(await runPython(FERNET_PROGRAM, request, { [KEYS_VARIABLE]: keyList(keyText) })) as string[];
  if (out.length !== plaintexts.length) throw new Error(`python returned ${out.length} tokens for ${plaintexts.length} values`);
  return out;
}

/**
 * What Python's Fernet opens each token to, or null where it raises InvalidToken. Several keys:
 * MultiFernet, which tries them in order.
 */
export async function fernetDecryptInPython(keyText: string | readonly string[], tokens: readonly string[]): Promise<(Buffer | null)[]> {
  const request = JSON.stringify({ op: 'decrypt', values: tokens });
  const out = JSON.parse(await runPython(FERNET_PROGRAM, request, { [KEYS_VARIABLE]: keyList(keyText) })) as (string | null)[];
  if (out.length !== tokens.length) throw new Error(`python returned ${out.length} results for ${tokens.length} tokens`);
  return out.map((value) => (value === null ? null : Buffer.from(value, 'base64')));
}

/** A new key from Python's Fernet.generate_key(). */
export async function fernetGenerateKeyInPython(): Promise<string> {
  const key = (await runPython('from cryptography.fernet import Fernet\nprint(Fernet.generate_key().decode("ascii"))', '')).trim();
  if (!/^[A-Za-z0-9_-]{43}=$/.test(key)) throw new Error('python printed something that is not a Fernet key');
  return key;
}

/** The Python ≥ 3.12 with cassandra-rekey 0.1.0 and boto3 (scripts/python-rekey-env, or CASSETTE_TEST_REKEY_PYTHON). */
export function rekeyPythonPath(): string {
  return venvPython('python-rekey-env', 'CASSETTE_TEST_REKEY_PYTHON', 'cassandra-rekey for the KMS interop tests');
}

// cassandra-rekey's own aws_kms provider, with the boto3 client it builds itself (`boto3.client("kms")`,
// pointed at local-kms by AWS_ENDPOINT_URL_KMS). Its decrypt passes KeyId=old CMK.
const AWS_KMS_PROGRAM = `
import base64, json, sys
from cassandra_rekey.crypto.aws_kms import AwsKmsProvider
request = json.load(sys.stdin)
provider = AwsKmsProvider(request["old"], request["new"], "v2")
out = []
for value in request["values"]:
    data = base64.b64decode(value)
    if request["op"] == "encrypt":
        out.append(base64.b64encode(provider.encrypt(data)).decode("ascii"))
    else:
        try:
            out.append(base64.b64encode(provider.decrypt(data)).decode("ascii"))
        except Exception:
            out.append(None)
json.dump(out, sys.stdout)
`;

/** Where cassandra-rekey's boto3 finds local-kms. */
export interface KmsEndpoint {
  readonly endpoint: string;
  readonly region: string;
}

function kmsEnv(kms: KmsEndpoint): Record<string, string> {
  return { AWS_ENDPOINT_URL_KMS: kms.endpoint, AWS_DEFAULT_REGION: kms.region, AWS_ACCESS_KEY_ID: 'cassette-test', AWS_SECRET_ACCESS_KEY: 'cassette-test' };
}

/** Values sealed by cassandra-rekey's aws_kms provider under `cmk` (one data key per value). */
export async function awsKmsEncryptInPython(kms: KmsEndpoint, cmk: string, spare: string, plaintexts: readonly Buffer[]): Promise<Buffer[]> {
  const out = JSON.parse(await runPythonWith(rekeyPythonPath(), AWS_KMS_PROGRAM, JSON.stringify({ op: 'encrypt', old: spare, new: cmk, values: plaintexts.map((p) => p.toString('base64')) }), kmsEnv(kms))) as string[];
  return out.map((v) => Buffer.from(v, 'base64'));
}

/** cassandra-rekey's aws_kms decrypt with `cmk` as its old CMK; null where it fails. */
export async function awsKmsDecryptInPython(kms: KmsEndpoint, cmk: string, spare: string, values: readonly Buffer[]): Promise<(Buffer | null)[]> {
  const out = JSON.parse(await runPythonWith(rekeyPythonPath(), AWS_KMS_PROGRAM, JSON.stringify({ op: 'decrypt', old: cmk, new: spare, values: values.map((v) => v.toString('base64')) }), kmsEnv(kms))) as (string | null)[];
  return out.map((v) => (v === null ? null : Buffer.from(v, 'base64')));
}
