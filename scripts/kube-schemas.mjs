#!/usr/bin/env node
// Writes deploy/schemas/: one JSON schema per kind the manifests in deploy/kubernetes/ use, made
// from the OpenAPI spec of a pinned Kubernetes release (k8s.io/kubernetes api/openapi-spec/
// swagger.json, taken from the Go module proxy with `go mod download`). The schemas are
// standalone (every $ref inlined) and strict (an object with declared properties accepts no
// others), named as kubeconform looks them up: `{kind}-{group}-{version}.json`.
//
//   node scripts/kube-schemas.mjs           write the schemas
//   node scripts/kube-schemas.mjs --check   exit 1 if the committed schemas differ from the spec's
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Kubernetes release whose API the manifests are validated against. */
export const KUBERNETES_VERSION = 'v1.34.4';

/** The kinds deploy/kubernetes/ uses, by OpenAPI definition name. */
export const KINDS = [
  'io.k8s.api.batch.v1.Job',
  'io.k8s.api.batch.v1.CronJob',
  'io.k8s.api.core.v1.ConfigMap',
  'io.k8s.api.core.v1.ServiceAccount',
];

const root = fileURLToPath(new URL('..', import.meta.url));
export const schemaDir = join(root, 'deploy', 'schemas');

/** Path of swagger.json of the pinned release, downloaded into the Go module cache on first use. */
export function specPath() {
  const out = execFileSync('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${KUBERNETES_VERSION}`], {
    encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const { Dir: dir } = JSON.parse(out);
  return join(dir, 'api', 'openapi-spec', 'swagger.json');
}

// Types whose OpenAPI form is narrower than what the API server accepts.
const SPECIAL = {
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { oneOf: [{ type: 'string' }, { type: 'integer' }] },
  'io.k8s.apimachinery.pkg.api.resource.Quantity': { oneOf: [{ type: 'string' }, { type: 'number' }] },
};

function inline(node, definitions, path) {
  if (Array.isArray(node)) return node.map((n) => inline(n, definitions, path));
  if (node === null || typeof node !== 'object') return node;
  if (typeof node.$ref === 'string') {
    const name = node.$ref.replace('#/definitions/', '');
    if (path.includes(name)) throw new Error(`recursive definition ${[...path, name].join(' → ')}`);
    if (SPECIAL[name] !== undefined) return SPECIAL[name];
    const target = definitions[name];
    if (target === undefined) throw new Error(`no definition ${name}`);
    return inline(target, definitions, [...path, name]);
  }
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    // Descriptions and extensions carry no constraint: left out, the schemas stay small.
    if (key === 'description' || key.startsWith('x-kubernetes-')) continue;
    out[key] = key === 'properties'
      ? Object.fromEntries(Object.entries(value).map(([p, v]) => [p, inline(v, definitions, path)]))
      : inline(value, definitions, path);
  }
  if (out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** The standalone-strict schema of one kind, with apiVersion and kind pinned to it. */
export function kindSchema(spec, name) {
  const definition = spec.definitions[name];
  const [gvk] = definition['x-kubernetes-group-version-kind'];
  const apiVersion = gvk.group === '' ? gvk.version : `${gvk.group}/${gvk.version}`;
  const schema = inline(definition, spec.definitions, [name]);
  schema.properties.apiVersion = { type: 'string', enum: [apiVersion] };
  schema.properties.kind = { type: 'string', enum: [gvk.kind] };
  schema.required = [...new Set([...(schema.required ?? []), 'apiVersion', 'kind'])];
  const file = `${gvk.kind.toLowerCase()}${gvk.group === '' ? '' : `-${gvk.group.split('.')[0]}`}-${gvk.version}.json`;
  return { file, schema: { $schema: 'http://json-schema.org/schema#', ...schema } };
}

/** Every schema file: name → text. */
export function renderSchemas(spec) {
  return new Map(KINDS.map((name) => {
    const { file, schema } = kindSchema(spec, name);
    return [file, `${JSON.stringify(schema, null, 1)}\n`];
  }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const spec = JSON.parse(readFileSync(specPath(), 'utf8'));
  const files = renderSchemas(spec);
  if (process.argv.includes('--check')) {
    const stale = [...files].filter(([file, text]) => {
      try { return readFileSync(join(schemaDir, file), 'utf8') !== text; } catch { return true; }
    }).map(([file]) => file);
    if (stale.length > 0) {
      process.stderr.write(`kube-schemas: ${stale.join(', ')} differ from Kubernetes ${KUBERNETES_VERSION}'s spec; run node scripts/kube-schemas.mjs\n`);
      process.exit(1);
    }
  } else {
    mkdirSync(schemaDir, { recursive: true });
    for (const [file, text] of files) writeFileSync(join(schemaDir, file), text);
    process.stdout.write(`kube-schemas: wrote ${[...files.keys()].join(', ')} (Kubernetes ${KUBERNETES_VERSION}) into deploy/schemas/\n`);
  }
}
