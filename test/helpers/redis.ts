/**
 * Starts a real `redis-server` for a test file on a free loopback port, with persistence off.
 * Readiness is detected from the server's own "Ready to accept connections" line and then
 * confirmed with a PING over a socket, so no test sleeps while it waits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

export interface RunningRedis {
  /** e.g. redis://127.0.0.1:40123 */
  url: string;
  port: number;
  /** Stops the server; resolves when the process has exited. */
  stop(): Promise<void>;
}

const serverPath = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

export function redisAvailable(): boolean {
  return existsSync(serverPath);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let received = '';
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      received += chunk.toString();
      if (received.includes('\r\n')) {
        socket.end();
        if (received.startsWith('+PONG')) resolve();
        else reject(new Error(`redis-server answered PING with ${JSON.stringify(received.trim())}`));
      }
    });
    socket.write('PING\r\n');
  });
}

function launch(port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(serverPath, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        // Keep draining so a full pipe never blocks the server.
        child.stdout?.resume();
        ping(port).then(() => resolve(child), reject);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`redis-server exited with ${code} before it was ready: ${output.slice(-500)}`));
    child.stdout?.on('data', onData);
    child.stderr?.resume();
    child.once('exit', onExit);
    child.once('error', reject);
  });
}

/** Starts redis-server; throws a message saying how to install it when it is missing. */
export async function startRedis(): Promise<RunningRedis> {
  if (!redisAvailable()) {
    throw new Error(
      `redis-server was not found at ${serverPath}. Install it with \`apt-get install -y redis-server\` ` +
        '(or run `npm run test:all` as root, which installs it); CI installs it before the tests.',
    );
  }
  let lastError: unknown;
  // A free port can be taken between the probe and the launch; try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      const child = await launch(port);
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        stop: () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
