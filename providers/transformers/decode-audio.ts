/**
 * Turns the bytes of a transcription call into mono float samples for transformers.js's
 * speech pipeline, which takes a `Float32Array` at the model's sampling rate and nothing else.
 *
 * Accepted: RIFF/WAVE with 16-bit integer PCM (format 1) or 32-bit IEEE float (format 3), also
 * inside WAVE_FORMAT_EXTENSIBLE; any number of channels (averaged to mono). And raw 32-bit
 * little-endian float samples when `mediaType` is `audio/pcm;encoding=float32[;rate=<Hz>]`.
 * No resampling: audio at another rate is refused with an `InvalidRequestError` that says so.
 * Layout follows http://soundfile.sapp.org/doc/WaveFormat/ and Microsoft's WAVEFORMATEXTENSIBLE.
 *
 * Imports: the provider kit only.
 */
import { InvalidRequestError } from '../../src/provider.js';

export interface DecodedAudio {
  samples: Float32Array;
  sampleRate: number;
}

const wavTypes = new Set(['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave']);
const PCM = 1;
const IEEE_FLOAT = 3;
const EXTENSIBLE = 0xfffe;

/** The samples of `decoded` if they are at `sampleRate`, else `InvalidRequestError` naming `audio`. */
export function samplesAt(decoded: DecodedAudio, sampleRate: number): Float32Array {
  if (decoded.sampleRate !== sampleRate)
    throw new InvalidRequestError('audio', `the audio is sampled at ${decoded.sampleRate} Hz; the model needs ${sampleRate} Hz: resample it first`);
  return decoded.samples;
}

/** Mono samples and their rate. Throws `InvalidRequestError` naming `audio` or `mediaType`. */
export function decodeAudioBytes(audio: Uint8Array, mediaType: string | undefined): DecodedAudio {
  if (!(audio instanceof Uint8Array) || audio.byteLength === 0) throw new InvalidRequestError('audio', 'must be non-empty bytes');
  const [type, ...parameters] = (mediaType ?? '').split(';').map((part) => part.trim().toLowerCase());
  if (type === 'audio/pcm' || type === 'audio/l32') {
    const params = Object.fromEntries(parameters.map((parameter) => parameter.split('=').map((side) => side.trim())));
    if (params.encoding !== 'float32' && params.encoding !== 'f32le')
      throw new InvalidRequestError('mediaType', `raw audio must say encoding=float32 (little-endian 32-bit float samples); got '${mediaType}'`);
    if (audio.byteLength % 4 !== 0) throw new InvalidRequestError('audio', 'raw float32 audio must be a whole number of 4-byte samples');
    const view = new DataView(audio.buffer, audio.byteOffset, audio.byteLength);
    const samples = new Float32Array(audio.byteLength / 4);
    for (let index = 0; index < samples.length; index++) samples[index] = view.getFloat32(index * 4, true);
    return checked({ samples, sampleRate: params.rate === undefined ? 16_000 : Number(params.rate) });
  }
  if (type && !wavTypes.has(type))
    throw new InvalidRequestError('mediaType', `'${mediaType}' is not supported on this device: send WAV (audio/wav, 16-bit PCM or 32-bit float) or audio/pcm;encoding=float32`);
  return decodeWav(audio);
}

function checked(decoded: DecodedAudio): DecodedAudio {
  if (!Number.isFinite(decoded.sampleRate) || decoded.sampleRate <= 0) throw new InvalidRequestError('audio', 'declares no valid sample rate');
  if (decoded.samples.length === 0) throw new InvalidRequestError('audio', 'holds no samples');
  return decoded;
}

function decodeWav(bytes: Uint8Array): DecodedAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number) => String.fromCharCode(bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]);
  if (bytes.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new InvalidRequestError('audio', 'is not a WAV file (no RIFF/WAVE header)');
  let format: { tag: number; channels: number; sampleRate: number; bits: number } | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.byteLength) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.byteLength) throw new InvalidRequestError('audio', 'has a truncated WAV fmt chunk');
      let formatTag = view.getUint16(body, true);
      // WAVE_FORMAT_EXTENSIBLE keeps the real format in the first two bytes of its SubFormat GUID.
      if (formatTag === EXTENSIBLE && size >= 40 && body + 26 <= bytes.byteLength) formatTag = view.getUint16(body + 24, true);
      format = { tag: formatTag, channels: view.getUint16(body + 2, true), sampleRate: view.getUint32(body + 4, true), bits: view.getUint16(body + 14, true) };
    } else if (id === 'data') {
      if (!format) throw new InvalidRequestError('audio', 'has its WAV data chunk before the fmt chunk');
      // Streaming writers leave the size at 0 or 0xFFFFFFFF: read what is there.
      const end = size === 0 || body + size > bytes.byteLength ? bytes.byteLength : body + size;
      return checked({ samples: toMono(view, body, end, format), sampleRate: format.sampleRate });
    }
    offset = body + size + (size % 2); // chunks are padded to an even length
  }
  throw new InvalidRequestError('audio', format ? 'has no WAV data chunk' : 'has no WAV fmt chunk');
}

function toMono(view: DataView, start: number, end: number, format: { tag: number; channels: number; bits: number }): Float32Array {
  const { tag, channels, bits } = format;
  const pcm16 = tag === PCM && bits === 16;
  const float32 = tag === IEEE_FLOAT && bits === 32;
  if (!pcm16 && !float32) throw new InvalidRequestError('audio', `WAV format ${tag} with ${bits}-bit samples is not supported: use 16-bit PCM or 32-bit float`);
  if (channels < 1) throw new InvalidRequestError('audio', 'declares no channels');
  const bytesPerSample = bits / 8;
  const frames = Math.floor((end - start) / (bytesPerSample * channels));
  const samples = new Float32Array(frames);
  for (let frame = 0; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++) {
      const at = start + (frame * channels + channel) * bytesPerSample;
      sum += pcm16 ? view.getInt16(at, true) / 32768 : view.getFloat32(at, true);
    }
    samples[frame] = sum / channels;
  }
  return samples;
}
