/**
 * Ephemeral client secrets for the Realtime API: your server mints one with its secret key
 * (POST /v1/realtime/client_secrets) and hands only the `ek_...` value to the page, which
 * connects with it (`openaiRealtime({ clientSecret })`). The secret key never reaches the browser.
 * https://platform.openai.com/docs/api-reference/realtime-sessions/create-realtime-client-secret
 *
 * Imports: src/errors.ts only.
 */
import { AuthenticationError, InvalidRequestError, NetworkError, ProviderError, redact } from '../../src/provider.js';

export interface CreateClientSecretOptions {
  /** The secret key (server side). @default process.env.OPENAI_API_KEY */
  apiKey?: string;
  /** ws(s) or http(s); read as http(s). @default 'https://api.openai.com/v1' */
  baseURL?: string;
  /** Model the sessions of this secret use. @default 'gpt-realtime' */
  model?: string;
  /** Instructions attached to the secret's sessions (the connection may override them). @default none */
  instructions?: string;
  /** Lifetime of the secret, seconds (OpenAI: 10 to 7,200). @default 600 */
  expiresAfterSeconds?: number;
  /** Allows the secret key in a browser-like runtime. @default false */
  dangerouslyAllowBrowser?: boolean;
  fetch?: typeof globalThis.fetch;
  signal?: AbortSignal;
}

export interface ClientSecret {
  /** `ek_...`: what the page passes as `clientSecret`. */
  value: string;
  /** When the secret stops opening new sessions, ms since epoch. */
  expiresAt: number;
}

export async function createClientSecret(options: CreateClientSecretOptions = {}): Promise<ClientSecret> {
  const g = globalThis as { window?: unknown; document?: unknown; process?: { versions?: { node?: string }; env?: Record<string, string | undefined> } };
  const apiKey = options.apiKey ?? g.process?.env?.OPENAI_API_KEY;
  if (!apiKey) throw new InvalidRequestError('apiKey', 'minting a client secret needs the secret key (server side)');
  const browserLike = typeof g.window !== 'undefined' || typeof g.document !== 'undefined' || typeof g.process?.versions?.node !== 'string';
  if (browserLike && !options.dangerouslyAllowBrowser) throw new InvalidRequestError('apiKey', 'mint client secrets on your server: the secret key would be exposed in this browser');
  const seconds = options.expiresAfterSeconds ?? 600;
  if (!Number.isInteger(seconds) || seconds < 10 || seconds > 7_200) throw new InvalidRequestError('expiresAfterSeconds', 'must be a whole number of seconds from 10 to 7,200');
  const base = (options.baseURL ?? 'https://api.openai.com/v1').replace(/^ws(s?):/, 'http$1:').replace(/\/+$/, '');
  const session: Record<string, unknown> = { type: 'realtime', model: options.model ?? 'gpt-realtime' };
  if (options.instructions !== undefined) session.instructions = options.instructions;
  let response: Response;
  try {
    response = await (options.fetch ?? globalThis.fetch)(`${base}/realtime/client_secrets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ expires_after: { anchor: 'created_at', seconds }, session }),
      signal: options.signal,
    });
  } catch (error) {
    throw new NetworkError(`minting a realtime client secret failed: ${redact(error instanceof Error ? error.message : String(error))}`, { cause: error });
  }
  const body = (await response.json().catch(() => ({}))) as { value?: unknown; expires_at?: unknown; error?: { message?: string } };
  if (response.status === 401 || response.status === 403) throw new AuthenticationError(`minting a realtime client secret was refused (${response.status}): check the secret key`, { status: response.status });
  if (!response.ok || typeof body.value !== 'string') {
    throw new ProviderError(`minting a realtime client secret failed (${response.status})${body.error?.message ? `: ${redact(body.error.message)}` : ''}`, { status: response.status, retryable: response.status >= 500 });
  }
  return { value: body.value, expiresAt: typeof body.expires_at === 'number' ? body.expires_at * 1000 : Date.now() + seconds * 1000 };
}
