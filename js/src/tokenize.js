// Texts -> token ids with the exported tokenizer.json, read by @huggingface/tokenizers (pure JS).
// Like sentence-transformers (and minilm.tokenizer): texts are stripped, [CLS] ... [SEP] added,
// truncated to maxLength tokens (the end token kept); padding happens per batch, in pad().
// No Node.js API here: the playground page serves an identical copy (minilm/server/static/).
import { Tokenizer } from '@huggingface/tokenizers';

export function makeTokenizer(json, maxLength) {
  const inner = new Tokenizer(json, {});
  const padId = json.padding?.pad_id ?? inner.token_to_id('[PAD]') ?? 0;
  const encode = (text) => {
    const ids = inner.encode(text.trim()).ids.map(Number);
    // keep the first maxLength - 1 tokens and the final [SEP], as the Rust tokenizer's truncation does
    return ids.length > maxLength ? [...ids.slice(0, maxLength - 1), ids[ids.length - 1]] : ids;
  };
  return { inner, padId, maxLength, encode };
}

// ids of several texts -> BigInt64Array input_ids / attention_mask / token_type_ids, [batch, width].
// typesList: the token type id of every token of each text (a pair: 0 for [CLS] A [SEP], 1 for B [SEP]);
// omitted, every type is 0, as for a single text
export function pad(idsList, padId, typesList = null) {
  const batch = idsList.length;
  const width = Math.max(...idsList.map((ids) => ids.length));
  const inputIds = new BigInt64Array(batch * width).fill(BigInt(padId));
  const mask = new BigInt64Array(batch * width);
  const typeIds = new BigInt64Array(batch * width);
  idsList.forEach((ids, row) => {
    if (typesList && typesList[row].length !== ids.length) {
      throw new Error(`text ${row}: ${typesList[row].length} token types for ${ids.length} token ids`);
    }
    ids.forEach((id, col) => {
      inputIds[row * width + col] = BigInt(id);
      mask[row * width + col] = 1n;
      if (typesList) typeIds[row * width + col] = BigInt(typesList[row][col]);
    });
  });
  return { batch, width, inputIds, mask, typeIds };
}
