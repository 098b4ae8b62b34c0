/**
 * Page script (bundled for the browser): a voice session over the page's own WebSocket to the
 * Realtime emulation, authenticated with an ephemeral client secret that the test minted on the
 * server side and hands to the page (the secret key never reaches it).
 */
import { createClient, type RealtimeSessionEvent } from '../../../src/index.js';
import { openaiRealtime } from '../../../providers/openai/realtime.js';

interface TurnResult {
  ok: boolean;
  path?: string;
  inputTranscript?: string;
  transcript?: string;
  audioBytes?: number;
  audio?: number[];
  route?: { path: string; target?: string; firstAudioMs?: number };
  types?: string[];
  error?: string;
}

/** One spoken turn: PCM16 in (bytes from the test), audio deltas and the transcript out. */
async function turn(baseURL: string, clientSecret: () => Promise<string>, pcm: number[]): Promise<TurnResult> {
  const client = createClient({ targets: [openaiRealtime({ baseURL, clientSecret })] });
  const session = client.realtime({ turnDetection: 'manual', latency: 5_000, cascade: false });
  const types: string[] = [];
  const audio: Uint8Array[] = [];
  let inputTranscript: string | undefined;
  try {
    const path = await session.ready;
    session.sendAudio(new Uint8Array(pcm));
    session.commit();
    for await (const event of session as AsyncIterable<RealtimeSessionEvent>) {
      types.push(event.type);
      if (event.type === 'audio-delta') audio.push(event.audio);
      if (event.type === 'input-transcript') inputTranscript = event.text;
      if (event.type === 'error') throw event.error;
      if (event.type === 'response-done') {
        await session.close();
        const joined = audio.reduce((all, chunk) => all.concat(Array.from(chunk)), [] as number[]);
        return { ok: true, path: String(path), inputTranscript, transcript: event.transcript, audioBytes: joined.length, audio: joined, route: { path: event.route.path, target: event.route.target, firstAudioMs: event.route.firstAudioMs }, types };
      }
    }
    return { ok: false, error: 'the session ended before its response', types };
  } catch (error) {
    return { ok: false, error: `${(error as Error).name}: ${(error as Error).message}`, types };
  } finally {
    await client.close();
  }
}

/** What happens to the secret key in a page: refused, naming the field. */
function secretKeyInPage(baseURL: string): { ok: boolean; error?: string; field?: string } {
  try {
    openaiRealtime({ baseURL, apiKey: 'sk-page-should-never-hold-this' });
    return { ok: true };
  } catch (error) {
    return { ok: false, error: (error as Error).message, field: (error as { field?: string }).field };
  }
}

(window as unknown as { inferlaneTest: unknown }).inferlaneTest = {
  turn: (baseURL: string, secretURL: string, pcm: number[]) => turn(baseURL, async () => (await (await fetch(secretURL, { method: 'POST' })).json()).value, pcm),
  secretKeyInPage,
};
(window as unknown as { __done: boolean }).__done = true;
