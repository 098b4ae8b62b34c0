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
