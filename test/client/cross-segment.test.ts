/**
 * Fallback across segments in Node, with the real on-device model (transformers.js +
 * onnxruntime-node) and the real openai client: cloud to device when the network fails, device
 * to cloud when the device cannot serve, and device-only requests that never touch the network.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import { openai } from '../../providers/openai/index.js';
import { transformers } from '../../providers/transformers/index.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';

let server: OpenAIServer;
const empty = mkdtempSync(join(tmpdir(), 'inferlane-no-model-'));
const device = transformers({ id: 'device:tiny', tasks: ['text', 'embedding'], maxNewTokens: 8 });

beforeAll(async () => {
  server = await startOpenAIServer();
  await device.load();
});
afterAll(async () => {
  await server.close();
  await device.close?.();
  rmSync(empty, { recursive: true, force: true });
});

const cloud = (baseURL: string) => openai({ id: 'cloud', model: 'm', baseURL, apiKey: 'test', embeddingModel: 'e', cost: { inputPerMTok: 0.4, outputPerMTok: 1.6 } });

describe('cross-segment fallback', () => {
  it('cloud to device when the cloud refuses connections (offline)', async () => {
    const closed = await startOpenAIServer();
    const deadURL = closed.baseURL;
    await closed.close();
    // The cloud is preferred (listed first and asked for); the device is the fallback.
    const client = createClient({ targets: [cloud(deadURL), device] });
    const result = await client.generate({ prompt: 'hello', targets: ['cloud', 'device:tiny'] });
    expect(result.route.target).toBe('device:tiny');
    expect(result.route.attempts[0]).toMatchObject({ target: 'cloud', code: 'NETWORK_ERROR' });
    expect(result.text.length).toBeGreaterThan(0);
  });

  it('device to cloud when the device model is unavailable', async () => {
    const missing = transformers({ id: 'device:missing', modelPath: empty });
    const client = createClient({ targets: [missing, cloud(server.baseURL)] });
    const result = await client.generate({ prompt: 'route me' });
    expect(result.route.target).toBe('cloud');
    expect(client.explain({ prompt: 'route me' }).rejected).toEqual([expect.objectContaining({ target: 'device:missing', code: 'unavailable' })]);
  });

  it('device to cloud when the device lacks the modality', async () => {
    const client = createClient({ targets: [device, openai({ id: 'cloud-image', model: 'img', baseURL: server.baseURL, apiKey: 'test', modalities: ['image'] })] });
    const result = await client.generateImage({ prompt: 'a red fox' });
    expect(result.route.target).toBe('cloud-image');
    expect(result.image.base64?.length).toBeGreaterThan(0);
  });

  it('device-only requests answer on the device and send nothing to the server', async () => {
    server.reset();
    const client = createClient({ targets: [cloud(server.baseURL), device] });
    const result = await client.generate({ prompt: 'my secret', privacy: 'device-only' });
    const embedded = await client.embed({ input: ['private text'], privacy: 'device-only' });
    expect(result.route.target).toBe('device:tiny');
    expect(embedded.route.target).toBe('device:tiny');
    expect(server.requests).toHaveLength(0);
  });

  it('device-only with no device that can serve fails with PRIVACY_VIOLATION, never falling back to the cloud', async () => {
    server.reset();
    const missing = transformers({ id: 'device:missing', modelPath: empty });
    const client = createClient({ targets: [missing, cloud(server.baseURL)] });
    const error = await client.generate({ prompt: 'my secret', privacy: 'device-only' }).catch((e) => e);
    expect(error.code).toBe('PRIVACY_VIOLATION');
    expect(error.rejections.map((r: { target: string; code: string }) => `${r.target}:${r.code}`).sort()).toEqual(['cloud:privacy', 'device:missing:unavailable']);
    expect(server.requests).toHaveLength(0);
  });
});
