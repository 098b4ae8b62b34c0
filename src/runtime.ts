/**
 * Runtime detection in one place (STYLE.md rule 11). Decides micro-batching defaults and
 * whether secret keys are allowed.
 */
export type Runtime = 'server' | 'serverless' | 'browser';

export function detectRuntime(): Runtime {
  const g = globalThis as { window?: unknown; document?: unknown; process?: { env?: Record<string, string | undefined> } };
  if (typeof g.window !== 'undefined' && typeof g.document !== 'undefined') return 'browser';
  const env = g.process?.env;
  if (env && (env.AWS_LAMBDA_FUNCTION_NAME || env.VERCEL || env.NETLIFY || env.FUNCTION_TARGET || env.K_SERVICE || env.CF_PAGES)) return 'serverless';
  if (!g.process) return 'serverless'; // edge runtimes (Workers, Deno Deploy) have no process
  return 'server';
}

/**
 * True where page scripts, and so anyone who opens the page, can read what the code holds:
 * browsers and web workers. Adapters refuse secret keys there unless told otherwise
 * (STYLE.md rule 13).
 */
export function isBrowserLike(): boolean {
  const g = globalThis as { window?: { document?: unknown }; document?: unknown; importScripts?: unknown };
  const page = typeof g.window !== 'undefined' && (typeof g.window.document !== 'undefined' || typeof g.document !== 'undefined');
  return page || typeof g.importScripts === 'function';
}

/** An environment variable where the runtime has an environment (Node, Bun, Deno's `process` shim), else undefined; '' counts as unset. */
export function environmentVariable(name: string): string | undefined {
  const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return value === undefined || value === '' ? undefined : value;
}
