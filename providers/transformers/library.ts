/**
 * The pieces of transformers.js this adapter uses, as minimal shapes: the library's own types stay
 * out of our public declarations because the package is an optional peer dependency.
 */
export interface TensorLike {
  dims: number[];
  data: ArrayLike<number | bigint>;
  tolist(): unknown;
}

export interface TokenizerLike {
  padding_side: string;
  apply_chat_template(messages: { role: string; content: string }[], options: Record<string, unknown>): unknown;
  (texts: string | string[], options?: Record<string, unknown>): { input_ids: TensorLike; attention_mask: TensorLike };
  batch_decode(ids: bigint[][] | TensorLike, options?: Record<string, unknown>): string[];
  decode(ids: bigint[], options?: Record<string, unknown>): string;
}

export interface ModelLike {
  generate(options: Record<string, unknown>): Promise<TensorLike>;
  (inputs: Record<string, unknown>): Promise<Record<string, TensorLike>>;
  dispose?(): Promise<unknown>;
  generation_config?: { eos_token_id?: number | number[] };
  config?: { eos_token_id?: number | number[] };
}

export interface StoppingCriteriaLike {
  interrupt(): void;
}

/** transformers.js's AutomaticSpeechRecognitionPipeline, as far as it is used here. */
export interface RecognizerLike {
  (audio: Float32Array, options?: Record<string, unknown>): Promise<{ text: string } | { text: string }[]>;
  processor?: { feature_extractor?: { config?: { sampling_rate?: number } } };
  model?: { config?: { model_type?: string } };
  dispose?(): Promise<unknown>;
}

export interface Library {
  env: {
    allowRemoteModels: boolean;
    allowLocalModels: boolean;
    localModelPath: string;
    backends: { onnx: { wasm?: { wasmPaths?: unknown } } };
  };
  AutoTokenizer: { from_pretrained(model: string, options?: Record<string, unknown>): Promise<TokenizerLike> };
  AutoModelForCausalLM: { from_pretrained(model: string, options?: Record<string, unknown>): Promise<ModelLike> };
  AutoModel: { from_pretrained(model: string, options?: Record<string, unknown>): Promise<ModelLike> };
  TextStreamer: new (tokenizer: TokenizerLike, options: Record<string, unknown>) => unknown;
  InterruptableStoppingCriteria: new () => StoppingCriteriaLike;
  pipeline(task: 'automatic-speech-recognition', model: string, options?: Record<string, unknown>): Promise<RecognizerLike>;
}

/** A tokenizer and a model session, loaded for one task. */
export interface Loaded {
  tokenizer: TokenizerLike;
  model: ModelLike;
}
