/**
 * One line of a Batch API output or error file, read into one item's answer: every shape the
 * provider writes (answers, per-item errors, failed HTTP statuses, malformed results) gives that
 * item its own typed result, and a line that is not a result at all is skipped (the item is then
 * reported missing by the job, never matched by position).
 */
import { describe, expect, it } from 'vitest';
import { parseResultLine } from '../../providers/openai/batch.js';

const line = (value: unknown) => JSON.stringify(value);

describe('parseResultLine', () => {
  it('a chat answer: text, finish reason and usage with cached tokens', () => {
    const result = parseResultLine(
      line({
        id: 'batch_req_1',
        custom_id: 'item-3',
        response: {
          status_code: 200,
          body: { model: 'gpt-4.1-mini', choices: [{ message: { content: 'hello' }, finish_reason: 'length' }], usage: { prompt_tokens: 12, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 8 } } },
        },
        error: null,
      }),
    );
    expect(result).toEqual({
      customId: 'item-3',
      ok: true,
      text: { text: 'hello', finishReason: 'length', modelId: 'gpt-4.1-mini', usage: { inputTokens: 12, outputTokens: 1, cachedInputTokens: 8, totalTokens: 13 } },
      usage: { inputTokens: 12, outputTokens: 1, cachedInputTokens: 8, totalTokens: 13 },
    });
  });

  it('an embedding answer: the vector at index 0, and its usage', () => {
    const result = parseResultLine(line({ custom_id: 'e-1', response: { status_code: 200, body: { data: [{ index: 0, embedding: [0.1, 0.2] }], usage: { prompt_tokens: 3, total_tokens: 3 } } } }));
    expect(result).toEqual({ customId: 'e-1', ok: true, embedding: [0.1, 0.2], usage: { inputTokens: 3, totalTokens: 3 } });
  });

  it('a per-item error from the error file keeps its code and message, with keys redacted', () => {
    const result = parseResultLine(line({ custom_id: 'x', response: null, error: { code: 'batch_expired', message: 'expired before sk-proj-abcdefghijklmnopqrstuvwxyz012345 ran it' } }));
    expect(result).toMatchObject({ customId: 'x', ok: false, error: { code: 'batch_expired' } });
    expect(result && !result.ok && result.error.message).not.toContain('sk-proj-abcdefghijklmnopqrstuvwxyz012345');
  });

  it('a failed HTTP status gives the body error code and the status', () => {
    expect(parseResultLine(line({ custom_id: 'y', response: { status_code: 400, body: { error: { code: 'context_length_exceeded', message: 'too long' } } } }))).toEqual({
      customId: 'y',
      ok: false,
      error: { code: 'context_length_exceeded', message: 'too long', status: 400 },
    });
    expect(parseResultLine(line({ custom_id: 'z', response: { status_code: 500 } }))).toEqual({ customId: 'z', ok: false, error: { code: 'http_500', message: 'the provider gave no reason', status: 500 } });
  });

  it('a result without a usable body is that item’s malformed_result, not a crash', () => {
    expect(parseResultLine(line({ custom_id: 'a', response: { status_code: 200 } }))).toMatchObject({ customId: 'a', ok: false, error: { code: 'malformed_result' } });
    expect(parseResultLine(line({ custom_id: 'b', response: { status_code: 200, body: { data: [{ index: 0, embedding: 'base64...' }] } } }))).toMatchObject({ customId: 'b', ok: false, error: { code: 'malformed_result' } });
    expect(parseResultLine(line({ custom_id: 'c', response: { status_code: 200, body: { choices: [] } } }))).toMatchObject({ customId: 'c', ok: false, error: { code: 'malformed_result' } });
  });

  it('a line that is not a result (not JSON, no custom_id) is skipped', () => {
    expect(parseResultLine('{ truncated')).toBeUndefined();
    expect(parseResultLine(line({ response: { status_code: 200, body: {} } }))).toBeUndefined();
    expect(parseResultLine('null')).toBeUndefined();
  });
});
