/**
 * `inferlane/provider`, the provider kit: the one status rule every adapter uses, the status facts
 * the core shares with it, and the rule that adapters under providers/ import the kit and nothing
 * else of the core, as a third party's adapter would.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as kit from '../src/provider.js';
import { AuthenticationError, errorForStatus, InferlaneError, ProviderError, RateLimitedError } from '../src/provider.js';
import { countsAsTargetFailure } from '../src/stats/circuit-breaker.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('errorForStatus', () => {
  it('classes a status once for every adapter: auth, rate limit, retryable, final', () => {
    const table = [400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504].map((status) => {
      const error = errorForStatus(status, { target: 't', message: `m${status}`, retryAfterMs: 1200 });
      return [status, error.name, error.retryable, error.status, error.target, error.message];
    });
    expect(table).toEqual([
      [400, 'ProviderError', false, 400, 't', 'm400'],
      [401, 'AuthenticationError', false, 401, 't', 'm401'],
      [403, 'AuthenticationError', false, 403, 't', 'm403'],
      [404, 'ProviderError', false, 404, 't', 'm404'],
      [408, 'ProviderError', true, 408, 't', 'm408'],
      [409, 'ProviderError', true, 409, 't', 'm409'],
      [413, 'ProviderError', false, 413, 't', 'm413'],
      [422, 'ProviderError', false, 422, 't', 'm422'],
      [429, 'RateLimitedError', true, 429, 't', 'm429'],
      [500, 'ProviderError', true, 500, 't', 'm500'],
      [502, 'ProviderError', true, 502, 't', 'm502'],
      [503, 'ProviderError', true, 503, 't', 'm503'],
      [504, 'ProviderError', true, 504, 't', 'm504'],
    ]);
  });

  it('carries what the provider asked us to wait, and the cause', () => {
    const cause = new Error('raw');
    const limited = errorForStatus(429, { target: 't', message: 'slow down', retryAfterMs: 2500, cause });
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect(limited).toMatchObject({ retryAfterMs: 2500, code: 'RATE_LIMITED' });
    expect(limited.cause).toBe(cause);
    expect(errorForStatus(503, { message: 'busy', retryAfterMs: 800 })).toMatchObject({ retryAfterMs: 800, code: 'PROVIDER_ERROR' });
    expect(errorForStatus(401, { message: 'no' })).toBeInstanceOf(AuthenticationError);
    expect(errorForStatus(418, { message: 'teapot' })).toBeInstanceOf(ProviderError);
    expect(InferlaneError.isInstance(errorForStatus(400, { message: 'bad' }))).toBe(true);
  });
});

describe('HTTP status facts (src/http-status.ts)', () => {
  it('one table: retryable, request faults, what counts against a target, what a batch bisects', () => {
    const statuses = [400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 503];
    const row = (predicate: (status: number) => boolean) => statuses.filter(predicate);
    expect(row(kit.isRetryableStatus)).toEqual([408, 409, 429, 500, 503]);
    expect(row(kit.isAuthenticationStatus)).toEqual([401, 403]);
    expect(row(kit.isRequestFaultStatus)).toEqual([400, 413, 422]);
    expect(row(kit.countsAgainstTarget)).toEqual([401, 403, 408, 409, 429, 500, 503]);
    expect(row(kit.isItemFaultStatus)).toEqual([400, 413, 422]);
    expect(kit.countsAgainstTarget(200)).toBe(false);
  });

  it("the circuit breaker's rule is the shared one", () => {
    for (const status of [400, 401, 404, 408, 422, 429, 500]) {
      expect(countsAsTargetFailure({ code: 'PROVIDER_ERROR', status }), `status ${status}`).toBe(kit.countsAgainstTarget(status));
    }
  });
});

describe('the kit is what adapters import', () => {
  const files = (folder: string): string[] =>
    readdirSync(folder).flatMap((name) => {
      const path = join(folder, name);
      return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
    });

  it('no file under providers/ imports the core except through src/provider.ts', () => {
    const offending: string[] = [];
    for (const file of files(join(root, 'providers'))) {
      const source = readFileSync(file, 'utf8');
      for (const match of source.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        const specifier = match[1];
        if (specifier.includes('/src/') && !/\/src\/provider\.js$/.test(specifier)) offending.push(`${relative(root, file)} -> ${specifier}`);
      }
    }
    expect(offending).toEqual([]);
    // The walk found the adapters (the check cannot pass by reading nothing).
    expect(files(join(root, 'providers')).length).toBeGreaterThan(20);
  });

  it('exports the contract helpers and the runtime detection an adapter needs', () => {
    for (const name of ['errorForStatus', 'mergeUsage', 'finishReasonOf', 'cutAtStop', 'incompleteStreamError', 'isNetworkFailure', 'networkFailureCode', 'isAbortError', 'retryAfterMs', 'redact', 'providerText', 'abortedCallError', 'detectRuntime', 'isBrowserLike', 'environmentVariable', 'InferlaneError', 'InvalidRequestError', 'ProviderError', 'NetworkError', 'AbortedError']) {
      expect(typeof (kit as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(kit.providerText(`key sk-abcdefghijklmnop  and\n\n${'x'.repeat(400)}`, 40)).toBe(`key [redacted] and ${'x'.repeat(21)}...`);
    expect(kit.abortedCallError('t', AbortSignal.abort('why'))).toMatchObject({ code: 'ABORTED', target: 't', message: 't: the call was aborted', cause: 'why' });
  });
});
