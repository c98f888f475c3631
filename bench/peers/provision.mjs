// Provisions the benchmark's peers into a cache outside the work tree (like scripts/lib/services/provision.mjs
// does for Cassandra): dsbulk 1.10.0 as one classpath of Maven Central modules, and a Python ≥ 3.12 venv with
// cassandra-rekey 0.1.0 and cqlsh from PyPI. Idempotent: a finished tool is kept and reused; a half-finished
// one is built in a temporary folder and renamed into place only when complete.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, MAVEN_DEPENDENCY_PLUGIN } from '../../scripts/lib/services/config.mjs';

export const DSBULK_VERSION = '1.10.0';
export const CASSANDRA_REKEY_VERSION = '0.1.0';
export const CQLSH_VERSION = '6.2.2';
const LOGBACK = ['ch.qos.logback', 'logback-classic', '1.2.13'];
const DSBULK_MODULES = ['dsbulk-runner', 'dsbulk-workflow-load', 'dsbulk-workflow-unload', 'dsbulk-connectors-json',
  'dsbulk-connectors-csv', 'dsbulk-executor-reactor', 'dsbulk-batcher-reactor'];
export const DSBULK_MAIN = 'com.datastax.oss.dsbulk.runner.DataStaxBulkLoader';

/** A tool the benchmark cannot do without is missing: one line naming it and what to do. */
export class MissingTool extends Error {}

const log = (line) => process.stderr.write(`bench: ${line}\n`);
const peersDir = join(cacheDir, 'peers');
const found = (command, args) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;

/** dsbulk's jars (cached); returns the classpath folder. */
export function provisionDsbulk() {
  const lib = join(peersDir, `dsbulk-${DSBULK_VERSION}`, 'lib');
  if (existsSync(join(lib, `dsbulk-runner-${DSBULK_VERSION}.jar`))) return lib;
  if (!found('mvn', ['-v'])) throw new MissingTool('bench: `mvn` not found on PATH; it is needed once to fetch dsbulk: install Maven (apt-get install maven)');
  if (!found('java', ['-version'])) throw new MissingTool('bench: `java` not found on PATH; dsbulk needs Java 17: install a JDK (apt-get install openjdk-17-jre-headless)');
  log(`provisioning dsbulk ${DSBULK_VERSION} from Maven Central into ${lib} (first run only)`);
  mkdirSync(join(peersDir, `dsbulk-${DSBULK_VERSION}`), { recursive: true });
  const work = mkdtempSync(join(peersDir, 'dsbulk-build-'));
  try {
    const dep = (g, a, v) => `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
    writeFileSync(join(work, 'pom.xml'), `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.cassette</groupId>
  <artifactId>dsbulk-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${[...DSBULK_MODULES.map((a) => dep('com.datastax.oss', a, DSBULK_VERSION)), dep(...LOGBACK)].join('\n')}
  </dependencies>
</project>
`);
    const r = spawnSync('mvn', ['-B', '-q', '-Dstyle.color=never', '-f', join(work, 'pom.xml'), `${MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies`,
      '-DincludeScope=runtime', `-DoutputDirectory=${join(work, 'lib')}`], { stdio: ['ignore', 2, 2] });
    if (r.status !== 0) throw new MissingTool(`bench: Maven could not fetch dsbulk ${DSBULK_VERSION}'s modules (exit ${r.status}); check access to Maven Central and re-run`);
    rmSync(lib, { recursive: true, force: true });
    renameSync(join(work, 'lib'), lib);
    log(`dsbulk ${DSBULK_VERSION}: ${readdirSync(lib).length} jars cached`);
    return lib;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The first Python ≥ 3.12 on this machine: pyenv's versions, then python3.13/python3.12 on PATH. */
function python312() {
  const candidates = [];
  if (found('pyenv', ['--version'])) {
    const root = execFileSync('pyenv', ['root'], { encoding: 'utf8' }).trim();
    const versions = execFileSync('pyenv', ['versions', '--bare'], { encoding: 'utf8' }).split('\n').map((v) => v.trim())
      .filter((v) => /^3\.(1[2-9])(\.\d+)*$/.test(v)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    candidates.push(...versions.map((v) => join(root, 'versions', v, 'bin', 'python3')));
  }
  candidates.push('python3.13', 'python3.12', 'python3');
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import sys; print(sys.version_info >= (3, 12))'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'True') return python;
  }
  throw new MissingTool('bench: no Python ≥ 3.12 found (pyenv versions, python3.12, python3.13); cassandra-rekey needs one: `pyenv install 3.12` and re-run');
}

/** A venv with cassandra-rekey and cqlsh (cached); returns its bin folder. */
export function provisionPythonPeers() {
  const venv = join(peersDir, `py-rekey-${CASSANDRA_REKEY_VERSION}-cqlsh-${CQLSH_VERSION}`);
  const bin = join(venv, 'bin');
  if (existsSync(join(venv, '.complete'))) return bin;
  const python = python312();
  log(`provisioning cassandra-rekey ${CASSANDRA_REKEY_VERSION} and cqlsh ${CQLSH_VERSION} from PyPI into ${venv} (first run only)`);
  mkdirSync(peersDir, { recursive: true });
  const work = mkdtempSync(join(peersDir, 'py-build-'));
  try {
    rmSync(venv, { recursive: true, force: true });
    // A venv records its own path, so it is built where it will live; `.complete` marks it finished.
    if (spawnSync(python, ['-m', 'venv', venv], { stdio: ['ignore', 2, 2] }).status !== 0) throw new MissingTool(`bench: ${python} -m venv failed; install the venv module for it and re-run`);
    const pip = spawnSync(join(bin, 'pip'), ['install', '-q', `cassandra-rekey==${CASSANDRA_REKEY_VERSION}`, `cqlsh==${CQLSH_VERSION}`],
      { stdio: ['ignore', 2, 2], cwd: work });
    if (pip.status !== 0) throw new MissingTool(`bench: pip could not install cassandra-rekey ${CASSANDRA_REKEY_VERSION} and cqlsh ${CQLSH_VERSION} (exit ${pip.status}); check access to PyPI and re-run`);
    writeFileSync(join(venv, '.complete'), `${new Date().toISOString()}\n`);
    return bin;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Both peers, provisioned once: `{ dsbulkLib, pythonBin }`. */
export function provisionPeers() {
  return { dsbulkLib: provisionDsbulk(), pythonBin: provisionPythonPeers() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(JSON.stringify(provisionPeers()));
  } catch (error) {
    console.error(error instanceof MissingTool ? error.message : error);
    process.exit(2);
  }
}
