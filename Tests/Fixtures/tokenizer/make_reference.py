"""Writes the tokenizer reference fixtures in this folder (run from the repository root):
  hf-reference.json      ids from HF `tokenizers` for the tiny tokenizer.json files, and pre-tokenizer pieces
                         for the GPT-2, SmolLM2 (Digits + ByteLevel), Qwen2 and Llama 3 pre-tokenizers
  tiny-*.gguf-vocab.json tokenizer.ggml.* of the tiny GGUF fixtures, as gguf-py reads them
Requires: pip install tokenizers gguf"""
import json
import random
from importlib.metadata import version
import tokenizers
from tokenizers import Tokenizer, pre_tokenizers, Regex
import gguf

TEXTS = [
    "Hello, world!",
    "",
    " ",
    "   ",
    "\n",
    "  leading spaces and trailing   ",
    "tabs\tand\nnewlines\n\n  \n x",
    "a  b   c    d\t\te",
    "\r\n windows\r\nline\r\n\r\n",
    "I'm you're he'll we've they'd it's can't I'M YOU'RE He'S",
    "'s 's's ''s 'll'",
    "numbers 1234567 3.14159 -42 ١٢٣ ½ ⅷ 2024-01-01",
    "Café naïve résumé",
    "Cafe\u0301 a\u0308\u0301 \u0301start",
    "日本語のテキスト、中文字符。한국어",
    "emoji 🎉🙂👍🏽 family 👨\u200d👩\u200d👧!",
    "non\u00a0breaking\u2003em space\u3000ideographic",
    "Ünïcödé ÀÉÎÕÜ ß ǅ Ωμέγα Привет",
    "(hello) [world] {x} !!! ??? ... --",
    "$100 + 50% = <tag> a|b ~c ^d",
    "x = [1, 2, 3]; // code {}\n    return x;",
    "supercalifragilisticexpialidocious",
    "<|im_start|>user\nWhat is 17 * 24?<|im_end|>\n<|im_start|>assistant\n",
    "mixed<|im_start|>special<|im_end|> tokens<|endoftext|>end",
    "partial <|im_star and <|im_end",
    "  <|im_end|>  \n<|endoftext|>",
]

# Plus random strings over the characters the pre-tokenizer regexes treat differently (seeded, so reproducible).
random.seed(7)
POOL = list(" \t\n\r  ") + list("abcXYZ'sStTdDlLmMrReEvV") + list("0123456789") + \
    list(".,!?;:-()[]{}<>/\\\"$%^&*_+=|~`@#") + \
    ["é", "ñ", "ß", "Ω", "Я", "中", "文", "日", "語", "한", "🎉", "🙂", "👍🏽", "\u0301", "\u0308", "\u00a0", "\u2003",
     "\u3000", "١", "½", "Ⅷ", "\u200d", "’", "…", "—", "\u2028", "\x0b", "\x0c", "\x85",
     "<|im_end|>", "<|im_start|>", "<|endoftext|>"]
TEXTS += ["".join(random.choice(POOL) for _ in range(random.randint(1, 30))) for _ in range(120)]

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")
PRE = {
    "gpt2": pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    "smollm": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]),
    "qwen2": pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2), behavior="isolated"),
                                      pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
    "llama3": pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated"),
                                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
    "gpt2-prefix-space": pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True),
}
# Split on a literal string with each delimiter behaviour, plain and inverted (raw pieces, no ByteLevel).
SPLIT = {f"{b}{'-inverted' if inv else ''}": pre_tokenizers.Split(" ", behavior=b, invert=inv)
         for b in ["isolated", "removed", "merged_with_previous", "merged_with_next", "contiguous"]
         for inv in [False, True]}

out = {"source": f"HF tokenizers {tokenizers.__version__} (Python); make_reference.py in this folder",
       "texts": TEXTS, "encode": {}, "pretokenize": {}, "split_on_space": {}}
for model in ["tiny-llama", "tiny-qwen2"]:
    tok = Tokenizer.from_file(f"Tests/Fixtures/{model}/tokenizer.json")
    parsed = [tok.encode(t).ids for t in TEXTS]
    tok.encode_special_tokens = True
    unparsed = [tok.encode(t).ids for t in TEXTS]
    out["encode"][model] = {"ids": parsed, "ids_special_as_text": unparsed}
for name, pre in PRE.items():
    out["pretokenize"][name] = [[p for p, _ in pre.pre_tokenize_str(t)] for t in TEXTS]
for name, pre in SPLIT.items():
    out["split_on_space"][name] = [[p for p, _ in pre.pre_tokenize_str(t)] for t in TEXTS]
with open("Tests/Fixtures/tokenizer/hf-reference.json", "w") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"))

for model in ["tiny-llama", "tiny-qwen2"]:
    reader = gguf.GGUFReader(f"Tests/Fixtures/{model}.f32.gguf")
    fields = {k: reader.fields[k].contents() for k in reader.fields if k.startswith("tokenizer.ggml.")}
    fields["source"] = f"gguf-py {version('gguf')} GGUFReader on Tests/Fixtures/{model}.f32.gguf"
    with open(f"Tests/Fixtures/tokenizer/{model}.gguf-vocab.json", "w") as f:
        json.dump(fields, f, ensure_ascii=False, indent=0)
