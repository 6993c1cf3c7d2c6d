"""Writes the tokenizer.json and GGUF forms of tokenizer.model (a SentencePiece BPE model with byte fallback),
and forms-reference.json: sentencepiece's decoding of reference.json's ids and the ids of each HF form as the
`tokenizers` library encodes them.

Run from this folder: python make_forms.py   (pip install transformers==5.25.0 tokenizers==0.23.3
sentencepiece protobuf gguf==0.19.0)

- tokenizer.json: transformers' LlamaConverter (convert_slow_tokenizer), non-legacy: Metaspace pre-tokenizer
  (prepend_scheme "first", no split), BPE with byte_fallback, merges ordered by piece score.
- tokenizer.legacy.json: the same converter with legacy=True: a Prepend("▁") + Replace(" ", "▁") normalizer and no
  pre-tokenizer (the Llama 2 / Mistral v0.1 files).
  transformers 5.25 passes the piece scores where SentencePieceExtractor.extract expects a model type; the
  extractor below does what the converter means (vocab, and merges ordered by score via generate_merges).
- tokenizer.gguf: the tokenizer.ggml.* keys as llama.cpp's convert_hf_to_gguf.py `_create_vocab_sentencepiece`
  writes them (model "llama", tokens, scores, token types from the piece types, add_space_prefix from the
  normalizer, bos/eos/unk ids, add_bos_token), plus remove_extra_whitespaces, which gguf-py's writer has and
  llama.cpp's converter writes for its T5 family; no tensors.
"""
import json

import gguf
import sentencepiece as spm
import transformers
import transformers.convert_slow_tokenizer as convert
from sentencepiece import sentencepiece_model_pb2 as model_pb2
from transformers.tokenization_utils_base import generate_merges

MODEL = "tokenizer.model"
sp = spm.SentencePieceProcessor(model_file=MODEL)
proto = model_pb2.ModelProto()
proto.ParseFromString(open(MODEL, "rb").read())


class Extractor:
    def __init__(self, path):
        pass

    def extract(self, vocab_scores):
        vocab = {piece: i for i, (piece, _) in enumerate(vocab_scores)}
        return vocab, generate_merges(vocab, dict(vocab_scores))


class Original:
    vocab_file = MODEL
    add_prefix_space = True

    def __init__(self, legacy):
        self.legacy = legacy

    def convert_ids_to_tokens(self, i):
        return sp.id_to_piece(i)


convert.LlamaConverter.SpmExtractor = Extractor
forms = {}
for name, legacy in [("tokenizer.json", False), ("tokenizer.legacy.json", True)]:
    tok = convert.LlamaConverter(Original(legacy)).converted()
    tok.save(name)
    forms[name] = tok

# GGUF: llama.cpp's _create_vocab_sentencepiece, token types from the piece types.
types = {1: gguf.TokenType.NORMAL, 2: gguf.TokenType.UNKNOWN, 3: gguf.TokenType.CONTROL,
         4: gguf.TokenType.USER_DEFINED, 5: gguf.TokenType.UNUSED, 6: gguf.TokenType.BYTE}
w = gguf.GGUFWriter("tokenizer.gguf", "llama")
w.add_tokenizer_model("llama")
w.add_tokenizer_pre("default")
w.add_token_list([p.piece.encode("utf-8") for p in proto.pieces])
w.add_token_scores([p.score for p in proto.pieces])
w.add_token_types([types[p.type] for p in proto.pieces])
w.add_add_space_prefix(proto.normalizer_spec.add_dummy_prefix)
w.add_remove_extra_whitespaces(proto.normalizer_spec.remove_extra_whitespaces)
w.add_bos_token_id(proto.trainer_spec.bos_id)
w.add_eos_token_id(proto.trainer_spec.eos_id)
w.add_unk_token_id(proto.trainer_spec.unk_id)
w.add_add_bos_token(True)
w.add_add_eos_token(False)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

ref = json.load(open("reference.json"))
out = {"generator": {"transformers": transformers.__version__, "tokenizers": __import__("tokenizers").__version__,
                     "sentencepiece": spm.__version__, "gguf": "0.19.0"},
       "strings": []}
for s in ref["strings"]:
    entry = {"text": s["text"], "sentencepiece_decoded": sp.decode(s["sentencepiece_ids"])}
    for name, tok in forms.items():
        entry[name] = tok.encode(s["text"], add_special_tokens=False).ids
    out["strings"].append(entry)
json.dump(out, open("forms-reference.json", "w"), indent=1, ensure_ascii=False)
