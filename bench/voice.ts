/**
 * bench/voice: time to first audio of a voice session's response, on the realtime path and on
 * the cascaded path, with each cascaded stage's share of it.
 *
 * Realtime: client.realtime() through the OpenAI Realtime adapter (ws) to the local emulation
 * (test/servers/realtime.ts), which answers with no scripted delay, so the figure is the SDK,
 * the socket and the emulation. Cascaded, on the device: the generated tone-alphabet recognizer
 * and the tiny chat model (transformers.js on onnxruntime-node), speech from the local
 * OpenAI-compatible server's route, or from the generated tone synthesiser (all on the device,
 * privacy 'device-only'). Cascaded, cloud: transcription, chat and speech all on the
 * local server. Each turn sends the same 1.2 s utterance ("hello world" in tones, 24 kHz PCM16)
 * and commits it; first audio is measured from the commit.
 *
 *   npx tsx bench/voice.ts [--turns 30]
 */
import { createClient, type InferlaneClient } from '../src/index.js';
import type { RealtimeRoute, RealtimeSessionOptions } from '../src/realtime/index.js';
import { openai } from '../providers/openai/index.js';
import { openaiRealtime } from '../providers/openai/realtime.js';
import { transformers } from '../providers/transformers/index.js';
import { transformersSpeech } from '../providers/transformers/speech.js';
import { startOpenAIServer } from '../test/servers/openai-compatible.js';
import { startRealtimeServer } from '../test/servers/realtime.js';
import { toneSpeech } from '../test/servers/tone-codec.js';
import { argValue, quantile, runIfMain, table } from './util.js';

const rate = 24_000;

/** Runs `turns` committed turns in one session; returns each response's route. */
async function measure(client: InferlaneClient, options: RealtimeSessionOptions, turns: number): Promise<RealtimeRoute[]> {
  const session = client.realtime(Object.assign({ turnDetection: 'manual' as const }, options));
  const routes: RealtimeRoute[] = [];
  const utterance = toneSpeech('hello world', rate);
  const iterator = session[Symbol.asyncIterator]();
  await session.ready;
  for (let turn = 0; turn < turns; turn++) {
    session.sendAudio(utterance);
    session.commit();
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) throw new Error('the session ended early');
      if (value.type === 'error') throw value.error;
      if (value.type === 'response-done') {
        if (value.status !== 'completed') throw new Error(`a response ended ${value.status}: ${value.reason ?? ''}`);
        routes.push(value.route);
        break;
      }
    }
  }
  await session.close();
  return routes;
}

const ms = (value: number) => value.toFixed(1);

export async function run(options: { turns?: number } = {}): Promise<Record<string, number>> {
  const turns = options.turns ?? Number(argValue('--turns') ?? 30);
  const warmup = 3;
  const [voice, cloud] = await Promise.all([startRealtimeServer(), startOpenAIServer({ seed: 1, recordRequests: false })]);
  const ears = transformers({ id: 'device:asr', tasks: ['transcription'] });
  const brain = transformers({ id: 'device:tiny' });
  const mouth = transformersSpeech({ id: 'device:tts' });
  await Promise.all([ears.load(), brain.load(), mouth.load()]);
  const cloudTarget = () => openai({ id: 'cloud', baseURL: cloud.baseURL, apiKey: 'bench', model: 'chat-model', transcriptionModel: 'whisper-1', speechModel: 'tts-1' });
  const results: Record<string, number> = {};
  const rows: string[][] = [];
  try {
    const runs: { name: string; client: InferlaneClient; options: RealtimeSessionOptions }[] = [
      { name: 'realtime (emulation, 0 ms model)', client: createClient({ targets: [openaiRealtime({ baseURL: voice.baseURL, apiKey: voice.apiKey })] }), options: {} },
      {
        name: 'cascaded: device ASR + device text + local speech',
        client: createClient({ targets: [ears, brain, openai({ id: 'cloud:tts', baseURL: cloud.baseURL, apiKey: 'bench', model: 'tts-1', modalities: ['speech'] })] }),
        options: { cascade: { textTargets: ['device:tiny'], maxOutputTokens: 16 } },
      },
      {
        name: 'cascaded: all on the device (ASR, text, TTS)',
        client: createClient({ targets: [ears, brain, mouth] }),
        options: { privacy: 'device-only', cascade: { maxOutputTokens: 16 } },
      },
      { name: 'cascaded: local transcription + chat + speech', client: createClient({ targets: [cloudTarget()] }), options: { cascade: { maxOutputTokens: 16 } } },
    ];
    for (const { name, client, options: sessionOptions } of runs) {
      const routes = (await measure(client, sessionOptions, turns + warmup)).slice(warmup);
      const first = routes.map((route) => route.firstAudioMs ?? Number.NaN);
      const stageMs = (stage: string, pick: 'ms' | 'firstMs') => routes.map((route) => route.stages.find((s) => s.stage === stage)?.[pick] ?? 0);
      const p50 = quantile(first, 0.5);
      const share = (values: number[]) => {
        const median = quantile(values, 0.5);
        return routes[0].path === 'cascaded' ? `${ms(median)} (${((median / p50) * 100).toFixed(0)}%)` : '-';
      };
      const transcribe = stageMs('transcribe', 'ms');
      const text = stageMs('text', 'firstMs');
      const speech = stageMs('speech', 'firstMs');
      const other = routes.map((route, index) => (route.firstAudioMs ?? 0) - transcribe[index] - text[index] - speech[index]);
      rows.push([name, ms(p50), ms(quantile(first, 0.9)), share(transcribe), share(text), share(speech), share(other)]);
      results[name] = p50;
    }
    // The device targets are shared by two clients: closed once, at the end.
    await Promise.all(runs.map(({ client }) => client.close()));
    console.log(`${turns} turns per path after ${warmup} warm-up turns, time to first audio from the commit, ms`);
    console.log(table(['path', 'p50', 'p90', 'transcribe p50 (share)', 'text to 1st sentence', '1st speech', 'other'], rows));
    return results;
  } finally {
    await Promise.all([voice.close(), cloud.close()]);
  }
}

runIfMain(import.meta.url, run);
