// First-use provisioning into the cache (outside the work tree): Cassandra's jars from Maven
// Central, MinIO and local-kms built with `go install`. Later runs find them and do nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  AGE_VERSION, CASSANDRA_VERSION, KUBECONFORM_VERSION, LOCAL_KMS_VERSION, ageBinary, kubeconformBinary, MAVEN_DEPENDENCY_PLUGIN, MINIO_VERSION, cacheDir, cassandraLibDirFor, localKmsBinDir, localKmsBinary,
  minioBinDir, minioBinary,
} from './config.mjs';
import { ServiceError } from './process.mjs';

const log = (msg) => process.stderr.write(`services: ${msg}\n`);

function versionOf(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`;
}

/**
 * Finds a Java 17 runtime. Cassandra 5.0 runs on 11 or 17 only, so JAVA_HOME and `java` on PATH are
 * not trusted blindly: CASSETTE_JAVA17, then Debian's openjdk-17 path, then PATH, each checked.
 */
export function findJava17() {
  const candidates = [
    process.env.CASSETTE_JAVA17,
    '/usr/lib/jvm/java-17-openjdk-amd64/bin/java',
    '/usr/lib/jvm/java-17-openjdk-arm64/bin/java',
    '/usr/lib/jvm/java-17-openjdk/bin/java',
    process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : undefined,
    'java',
  ].filter(Boolean);
  for (const java of candidates) {
    const out = versionOf(java, ['-version']);
    if (out && /version "17[."]/.test(out)) return java;
  }
  throw new ServiceError(
    'Java 17 not found (Cassandra 5.0 needs Java 11 or 17; newer JDKs cannot run it): ' +
      'install it with `apt-get install openjdk-17-jre-headless`, or set CASSETTE_JAVA17=/path/to/java17/bin/java',
  );
}

/** A provisioning tool's stdin closed, and both its stdout and stderr on our stderr (fd 2). */
const TOOL_OUTPUT_TO_STDERR = ['ignore', 2, 2];

function requireTool(command, args, install) {
  if (versionOf(command, args) === undefined) {
    throw new ServiceError(`\`${command}\` not found on PATH; it is needed once to provision the test services: ${install}`);
  }
}

/** Downloads cassandra-all `version` and its runtime dependencies with Maven, unless cached. */
export function provisionCassandra(java, version = CASSANDRA_VERSION) {
  const libDir = cassandraLibDirFor(version);
  if (existsSync(join(libDir, `cassandra-all-${version}.jar`))) return;
  requireTool('mvn', ['-v'], 'install Maven with `apt-get install maven`');
  log(`provisioning Apache Cassandra ${version} from Maven Central into ${libDir} (first run only)`);
  mkdirSync(dirname(libDir), { recursive: true });
  const work = mkdtempSync(join(dirname(libDir), 'provision-'));
  try {
    writeFileSync(join(work, 'pom.xml'), `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.cassette</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>${version}</version>
    </dependency>
  </dependencies>
</project>
`);
    const javaHome = dirname(dirname(execFileSync('readlink', ['-f', java === 'java' ? execFileSync('which', ['java'], { encoding: 'utf8' }).trim() : java], { encoding: 'utf8' }).trim()));
    // Batch mode, no colour, and the tool's stdout onto our stderr: `up` prints only export lines on
    // stdout, which `eval "$(scripts/services up)"` runs (Maven's colour resets once reached it).
    const r = spawnSync('mvn', ['-B', '-q', '-Dstyle.color=never', '-f', join(work, 'pom.xml'), `${MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies`,
      '-DincludeScope=runtime', `-DoutputDirectory=${join(work, 'lib')}`], { stdio: TOOL_OUTPUT_TO_STDERR, env: { ...process.env, JAVA_HOME: javaHome } });
    if (r.status !== 0) {
      throw new ServiceError(`Maven could not fetch org.apache.cassandra:cassandra-all:${version} (exit ${r.status}); check access to Maven Central and re-run`);
    }
    rmSync(libDir, { recursive: true, force: true });
    renameSync(join(work, 'lib'), libDir); // atomic: a half-finished download is never used
    log(`Cassandra ${version}: ${readdirSync(libDir).length} jars cached`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const GO_HINT = 'install Go >= 1.24 (https://go.dev/dl or `apt-get install golang`)';

/**
 * `go install module@version` into a fresh folder beside the cache, then the binary renamed into
 * `binary`: a half-finished build is never used. CGO off, the local toolchain only; the caller has
 * checked that `go` is there.
 */
function goInstall({ module, version, binary, tags = [] }) {
  mkdirSync(cacheDir, { recursive: true });
  const name = basename(binary);
  const work = mkdtempSync(join(cacheDir, `${name}-build-`));
  try {
    const r = spawnSync('go', ['install', '-trimpath', ...(tags.length > 0 ? ['-tags', tags.join(',')] : []), `${module}@${version}`], {
      stdio: TOOL_OUTPUT_TO_STDERR,
      env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOBIN: work, GOFLAGS: '-mod=mod' },
    });
    if (r.status !== 0 || !existsSync(join(work, name))) {
      throw new ServiceError(`\`go install ${module}@${version}\` failed (exit ${r.status}); check access to the Go module proxy and re-run`);
    }
    mkdirSync(dirname(binary), { recursive: true });
    renameSync(join(work, name), binary);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Builds MinIO with `go install` at the pinned pseudo-version, unless cached. */
export function provisionMinio() {
  if (existsSync(minioBinary)) return;
  requireTool('go', ['version'], GO_HINT);
  log(`building MinIO ${MINIO_VERSION} with go install into ${minioBinDir} (first run only; takes minutes)`);
  goInstall({ module: 'github.com/minio/minio', version: MINIO_VERSION, binary: minioBinary, tags: ['kqueue'] });
}

/** Builds local-kms (AWS KMS on loopback) with `go install` at the pinned pseudo-version, unless cached. */
export function provisionLocalKms() {
  if (existsSync(localKmsBinary)) return;
  requireTool('go', ['version'], GO_HINT);
  log(`building local-kms ${LOCAL_KMS_VERSION} with go install into ${localKmsBinDir} (first run only; seconds)`);
  goInstall({ module: 'github.com/nsmithuk/local-kms', version: LOCAL_KMS_VERSION, binary: localKmsBinary });
}

/** Builds the age CLI with `go install`, unless cached: the tests decrypt encrypted backups' objects with it. */
export function provisionAge() {
  if (existsSync(ageBinary)) return;
  requireTool('go', ['version'], GO_HINT);
  log(`building age ${AGE_VERSION} with go install into ${dirname(ageBinary)} (first run only; seconds)`);
  goInstall({ module: 'filippo.io/age/cmd/age', version: AGE_VERSION, binary: ageBinary });
}

/** Builds kubeconform with `go install`, unless cached: the deploy tests validate the Kubernetes manifests with it. */
export function provisionKubeconform() {
  if (existsSync(kubeconformBinary)) return;
  requireTool('go', ['version'], GO_HINT);
  log(`building kubeconform ${KUBECONFORM_VERSION} with go install into ${dirname(kubeconformBinary)} (first run only; seconds)`);
  goInstall({ module: 'github.com/yannh/kubeconform/cmd/kubeconform', version: KUBECONFORM_VERSION, binary: kubeconformBinary });
}

/** openssl is needed for the secure profile's throwaway CA. */
export function requireOpenssl() {
  requireTool('openssl', ['version'], 'install it with `apt-get install openssl`');
}
