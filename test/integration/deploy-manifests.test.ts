/**
 * deploy/kubernetes/ validated offline: kubeconform (built by `scripts/services tool kubeconform`
 * on first use) against the schemas kept in deploy/schemas/, strict — an unknown field, a wrong
 * type or a kind without a schema is an error. Needs Go and, the first time, the Go module proxy;
 * without them the test fails with the reason, never skips.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const servicesScript = join(root, 'scripts', 'services');
const kubeDir = join(root, 'deploy', 'kubernetes');
const SCHEMAS = join(root, 'deploy', 'schemas', '{{ .ResourceKind }}{{ .KindSuffix }}.json');

interface Result { readonly status: number | null; readonly resources: { filename: string; kind: string; name: string; status: string; msg: string }[] }

describe('deploy/kubernetes against the Kubernetes API schemas (kubeconform)', () => {
  let kubeconform: string;
  let work: string;

  /** kubeconform -strict over `paths`, offline: only the schemas in the repository. */
  function validate(...paths: string[]): Result {
    const r = spawnSync(kubeconform, ['-strict', '-output', 'json', '-schema-location', SCHEMAS, ...paths], { encoding: 'utf8' });
    if (r.error) throw r.error;
    return { status: r.status, resources: (JSON.parse(r.stdout) as { resources: Result['resources'] }).resources };
  }
  function broken(name: string, edit: (text: string) => string): string {
    const path = join(work, name);
    const text = readFileSync(join(kubeDir, 'backup-job.yaml'), 'utf8');
    const changed = edit(text);
    expect(changed).not.toBe(text);
    writeFileSync(path, changed);
    return path;
  }

  beforeAll(() => {
    kubeconform = execFileSync(servicesScript, ['tool', 'kubeconform'], { encoding: 'utf8' }).trim();
    work = mkdtempSync(join(tmpdir(), 'cassette-kubeconform-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('finds every manifest valid', () => {
    const files = readdirSync(kubeDir).filter((f) => f.endsWith('.yaml'));
    const result = validate(kubeDir);
    // -output json lists only what is not valid; -summary counts the rest.
    expect(result.resources).toEqual([]);
    expect(result.status).toBe(0);
    const summary = spawnSync(kubeconform, ['-strict', '-summary', '-schema-location', SCHEMAS, kubeDir], { encoding: 'utf8' });
    expect(summary.stdout.trim()).toBe(`Summary: ${files.length} resources found in ${files.length} files - Valid: ${files.length}, Invalid: 0, Errors: 0, Skipped: 0`);
  });

  it('rejects a misspelled field, a wrong type, a missing required field and a repeated key', () => {
    const result = validate(
      broken('typo.yaml', (t) => t.replace('  parallelism: 4', '  paralelism: 4')),
      broken('type.yaml', (t) => t.replace('backoffLimit: 6', 'backoffLimit: six')),
      broken('required.yaml', (t) => t.replace('        - name: cassette\n          image:', '        - image:')),
      broken('repeated.yaml', (t) => t.replace('  backoffLimit: 6\n', '  backoffLimit: 6\n  backoffLimit: 7\n')),
    );
    expect(result.status).toBe(1);
    const byFile = new Map(result.resources.map((r) => [r.filename.replace(`${work}/`, ''), r]));
    expect(byFile.get('typo.yaml')).toMatchObject({ status: 'statusInvalid', msg: expect.stringContaining("additional properties 'paralelism' not allowed") });
    expect(byFile.get('type.yaml')).toMatchObject({ status: 'statusInvalid', msg: expect.stringContaining('/spec/backoffLimit') });
    expect(byFile.get('required.yaml')).toMatchObject({ status: 'statusInvalid', msg: expect.stringContaining("missing property 'name'") });
    expect(byFile.get('repeated.yaml')).toMatchObject({ status: 'statusError', msg: expect.stringContaining('key "backoffLimit" already set') });
  });

  it('does not pass a kind it has no schema for', () => {
    const result = validate(broken('deployment.yaml', (t) => t.replace('apiVersion: batch/v1\nkind: Job', 'apiVersion: apps/v1\nkind: Deployment')));
    expect(result.status).toBe(1);
    expect(result.resources).toEqual([expect.objectContaining({ kind: 'Deployment', status: 'statusError', msg: expect.stringContaining('could not find schema') })]);
  });

  it('the schemas in the repository are those scripts/kube-schemas.mjs makes from the pinned Kubernetes release', () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'kube-schemas.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
