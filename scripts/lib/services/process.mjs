// Starting, finding and stopping the detached service processes, and port checks.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runDir } from './config.mjs';

/** A one-line failure with what to do about it; main.mjs prints it and exits 1. */
export class ServiceError extends Error {}

export function serviceDir(name) {
  return join(runDir, name);
}

/** The pid of a running service we started, or undefined. Guards against pid reuse via the cmdline. */
export function runningPid(name) {
  const pidFile = join(serviceDir(name), 'pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(serviceDir(name)) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `command` detached, logging to <dir>/log, and records its pid. */
export function startDetached(name, command, args, env = {}) {
  const dir = serviceDir(name);
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, 'log');
  const fd = openSync(logPath, 'w');
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
    cwd: dir,
  });
  closeSync(fd);
  child.unref();
  writeFileSync(join(dir, 'pid'), `${child.pid}\n`);
  return { pid: child.pid, logPath };
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the process group, then SIGKILL after `graceMs`; resolves once the process is gone. Keeps every file. */
export async function killAndWait(pid, graceMs = 60_000) {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(200);
  if (isAlive(pid)) {
    try { process.kill(-pid, 'SIGKILL'); } catch { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    while (isAlive(pid)) await sleep(100);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; removes the service's run directory (data is throwaway). */
export async function stopService(name, graceMs = 30_000) {
  const pid = runningPid(name);
  if (pid !== undefined) await killAndWait(pid, graceMs); // the whole process group: started detached
  rmSync(serviceDir(name), { recursive: true, force: true });
  return pid !== undefined;
}

/** Resolves true when something accepts connections on host:port. */
export function portAnswers(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves true when we could bind host:port ourselves (nobody else holds it). */
export function portFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws a ServiceError naming the first port that is taken. */
export async function requirePortsFree(service, ports, host = '127.0.0.1') {
  for (const [label, port] of Object.entries(ports)) {
    if (!(await portFree(port, host))) {
      throw new ServiceError(
        `${service}: port ${port} (${label}) on ${host} is already in use by another process; ` +
          `stop that process (\`ss -ltnp 'sport = :${port}'\` shows it), or run \`scripts/services down\` if it is a cassette service from another checkout`,
      );
    }
  }
}

/** The last `n` lines of a log file, for failure messages. */
export function tailLog(path, n = 25) {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls `probe` until it resolves truthy, the process dies, or the timeout passes. */
export async function waitFor(what, { pid, logPath, timeoutMs, intervalMs = 1000 }, probe) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    if (pid !== undefined && !isAlive(pid)) {
      throw new ServiceError(`${what} exited during start-up; last lines of ${logPath}:\n${tailLog(logPath)}`);
    }
    try {
      const result = await probe();
      if (result) return result;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new ServiceError(`${what} did not become ready within ${Math.round(timeoutMs / 1000)} s${reason}; see ${logPath}`);
}
