/**
 * The connection of one `openai()` target: an `openai` client per replica (built on first use, so
 * an unused target costs nothing), the replica a call goes to, and the one error mapping every
 * modality's failures go through.
 *
 * The clients run with their retries off (the executor owns retries, deadlines and fallbacks) and
 * take each attempt's signal, so an abort closes the HTTP connection.
 */
import OpenAI from 'openai';
import { environmentVariable, InvalidRequestError, type CallContext, type InferlaneError } from '../../src/provider.js';
import { mapOpenAIError } from './errors.js';
import type { OpenAISettings, ResolvedSettings } from './settings.js';

/**
 * Time before response headers, ms, after which openai-node gives up. Ours is the caller's
 * deadline (through `ctx.signal`), so this only has to be long and below setTimeout's
 * 2^31 ms ceiling (larger values fire at once).
 */
const clientTimeoutMs = 24 * 3_600_000;

export interface Connection {
  readonly target: string;
  /** Number of replicas (at least 1). */
  readonly replicas: number;
  /** The client of one replica. */
  client(replica: number): OpenAI;
  /** The replica `ctx.replica` names; throws InvalidRequestError (field `ctx.replica`) past the last. */
  replicaOf(ctx: Pick<CallContext, 'replica'>): number;
  /** Any failure as an inferlane error naming the target (an abort of `ctx.signal` as ABORTED). */
  fail(error: unknown, ctx: { signal?: AbortSignal }): InferlaneError;
  /** Forgets the clients (their sockets belong to the shared fetch). */
  close(): void;
}

/**
 * openai-node drops an error body that lacks OpenAI's `{ error }` envelope (problem+json,
 * FastAPI's `{ detail }`, `{ message }`): the APIError then says only "status code (no body)". This
 * client keeps that body on the error as `body`, so the mapping can quote the server's own words.
 */
class BodyKeepingOpenAI extends OpenAI {
  protected override makeStatusError(status: number, error: object, message: string | undefined, headers: Headers) {
    const made = super.makeStatusError(status, error, message, headers);
    if (error !== null && typeof error === 'object' && (error as { error?: unknown }).error === undefined) (made as { body?: unknown }).body = error;
    return made;
  }
}

export function createConnection(resolved: ResolvedSettings, settings: OpenAISettings): Connection {
  const { id: target, baseURLs, now } = resolved;
  const clients: (OpenAI | undefined)[] = [];
  const replicas = Math.max(1, baseURLs.length);
  return {
    target,
    replicas,
    client(replica) {
      clients[replica] ??= new BodyKeepingOpenAI({
        apiKey: resolved.apiKey,
        baseURL: baseURLs[replica],
        organization: settings.organization,
        project: settings.project,
        defaultHeaders: settings.defaultHeaders,
        fetch: settings.fetch,
        maxRetries: 0,
        timeout: clientTimeoutMs,
        dangerouslyAllowBrowser: settings.dangerouslyAllowBrowser,
        logLevel: settings.logLevel ?? (environmentVariable('OPENAI_LOG') ? undefined : 'off'),
        logger: settings.logger,
      });
      return clients[replica]!;
    },
    replicaOf(ctx) {
      const replica = ctx.replica ?? 0;
      if (!Number.isInteger(replica) || replica < 0 || replica >= replicas) {
        throw new InvalidRequestError('ctx.replica', `${target} has ${replicas} replica(s); got ${String(replica)}`);
      }
      return replica;
    },
    fail: (error, ctx) => mapOpenAIError(error, { target, signal: ctx.signal, now }),
    close() {
      clients.length = 0;
    },
  };
}
