// Public surface of the tokenizer: the facade, the vocabulary and the streaming detokenizer.
export { Tokenizer, type EncodeOptions } from './tokenizer.js';
export { Vocab, TokenAttr, NO_TOKEN, metadataMap, type Metadata, type VocabOptions } from './vocab.js';
export { StreamingDetokenizer, type DecodeOptions, type StreamOptions } from './detokenizer.js';
export { PRE_TOKENIZERS, findPreTokenizer, type PreTokenizer } from './pretokenizers.js';
