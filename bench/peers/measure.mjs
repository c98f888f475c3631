// Runs one command under GNU time and returns what the benchmark compares: wall seconds, client CPU
// seconds (user + sys of the whole process tree, as wait4 reports it) and peak RSS (the largest process
// of the tree), plus the command's output.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';

/**
 * Runs `command args` (cwd, env) under `/usr/bin/time`; resolves `{ wall, cpu, rssMiB, status, stdout,
 * stderr }`. A non-zero exit is returned, not thrown: the caller names what failed.
 */
export function runMeasured(command, args, { env = process.env, cwd = process.cwd(), label = command } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'benchp-time-'));
  const timeFile = join(dir, 'time.txt');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(GNU_TIME, ['-f', '%e %U %S %M', '-o', timeFile, command, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', (error) => reject(new Error(`bench: could not start ${label}: ${error.message}`)));
    child.on('close', (status) => {
      const wall = (performance.now() - started) / 1000;
      try {
        const line = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) ?? '';
        const [, user, sys, maxKiB] = line.split(' ').map(Number);
        resolve({ wall, cpu: (user ?? NaN) + (sys ?? NaN), rssMiB: (maxKiB ?? NaN) / 1024, status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      } catch (error) {
        reject(error);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

/** Like runMeasured, but a non-zero exit throws with the command's last lines of output. */
export async function runMeasuredOk(command, args, options = {}) {
  const r = await runMeasured(command, args, options);
  if (r.status !== 0) {
    const tail = `${r.stderr}\n${r.stdout}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`bench: ${options.label ?? command} failed (exit ${r.status}):\n${tail}`);
  }
  return r;
}

/** The median of numbers (mean of the middle two for an even count). */
export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
