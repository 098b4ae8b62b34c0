/**
 * `doImage`: `/images/generations`, base64 asked for (GPT image models always answer base64 and
 * refuse the field; DALL-E defaults to URLs). Loaded on the first image call, so a chat-only
 * bundle does not carry it.
 */
import type OpenAI from 'openai';
import { InvalidRequestError, ProviderError, type CallContext, type ImageCall, type ImageResult, type Usage } from '../../src/provider.js';
import type { Connection } from './connection.js';

/** The spec's bounds on `n` (CreateImageRequest: 1 to 10). */
const maxImages = 10;

export async function generateImage(connection: Connection, model: string, call: ImageCall, ctx: CallContext): Promise<ImageResult> {
  const { target } = connection;
  const replica = connection.replicaOf(ctx);
  const n = call.n ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > maxImages) throw new InvalidRequestError('n', `OpenAI generates from 1 to ${maxImages} images per request; got ${String(n)}`);
  const body: Record<string, unknown> = { model, prompt: call.prompt, n };
  if (call.size !== undefined) body.size = call.size;
  if (!/^gpt-image/.test(model)) body.response_format = 'b64_json';
  Object.assign(body, call.providerOptions?.openai ?? {});
  let response: OpenAI.ImagesResponse;
  try {
    response = (await connection.client(replica).images.generate(body as unknown as OpenAI.ImageGenerateParamsNonStreaming, { signal: ctx.signal })) as OpenAI.ImagesResponse;
  } catch (error) {
    throw connection.fail(error, ctx);
  }
  const mediaType = `image/${response.output_format ?? 'png'}`;
  const images = (response.data ?? []).map((image) => {
    const out: ImageResult['images'][number] = { mediaType };
    if (image.b64_json) out.base64 = image.b64_json;
    if (image.url) out.url = image.url;
    return out;
  });
  if (images.length === 0) throw new ProviderError(`${target} returned no image`, { target, retryable: true });
  const usage: Usage = { images: images.length };
  if (response.usage) {
    usage.inputTokens = response.usage.input_tokens;
    usage.outputTokens = response.usage.output_tokens;
    usage.totalTokens = response.usage.total_tokens;
  }
  return { images, usage };
}
