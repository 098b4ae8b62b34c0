import { defineConfig } from 'tsup';

/** One entry per public subpath; Node-only and heavy pieces stay in their own files. */
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    core: 'src/core.ts',
    testing: 'src/testing.ts',
    provider: 'src/provider.ts',
    cli: 'src/cli.ts',
    'stores/redis': 'src/stores/redis.ts',
    'stores/indexeddb': 'src/stores/indexeddb.ts',
    'providers/openai': 'providers/openai/index.ts',
    'providers/openai-realtime': 'providers/openai/realtime.ts',
    'providers/huggingface': 'providers/huggingface/index.ts',
    'providers/transformers': 'providers/transformers/index.ts',
    'providers/transformers-speech': 'providers/transformers/speech.ts',
    'providers/webllm': 'providers/webllm/index.ts',
    'providers/chrome-ai': 'providers/chrome-ai/index.ts',
    'providers/llamacpp': 'providers/llamacpp/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  splitting: true,
  treeshake: true,
  target: 'es2022',
  external: ['openai', '@huggingface/inference', '@huggingface/transformers', 'ioredis', '@mlc-ai/web-llm', 'gpt-tokenizer', 'node-llama-cpp', 'ws'],
});
