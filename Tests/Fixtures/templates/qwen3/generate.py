"""Writes renders.json: Qwen3's chat template (qwen3.jinja, the template of Qwen/Qwen3-8B's tokenizer_config.json)
rendered by jinja2 for conversations that exercise its thinking switch (`enable_thinking`), the stripping of
earlier turns' <think> blocks, `reasoning_content`, and tool calls. The environment is transformers' (as in
../generate.py). Run: python3 generate.py (jinja2 3.1).
"""
import json
from pathlib import Path

import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
here = Path(__file__).parent
template = env.from_string((here / "qwen3.jinja").read_text())

SIMPLE = [{"role": "user", "content": "What is 2+2?"}]
MULTI = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is 6*7?"},
    {"role": "assistant", "content": "<think>\n6*7 = 42.\n</think>\n\nThe answer is 42."},
    {"role": "user", "content": "And 6*8?"},
]
LAST_ASSISTANT = MULTI + [{"role": "assistant", "content": "<think>\n6*8 = 48\n</think>\n\n48."}]
REASONING = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!", "reasoning_content": "\nGreet back.\n"},
]
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TOOLS = [
    {"role": "user", "content": "Weather in Zürich?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
    {"role": "tool", "content": "{\"temp\": 21}"},
    {"role": "assistant", "content": "21° in Zürich."},
]

CASES = [
    ("thinking default", SIMPLE, True, {}),
    ("thinking on", SIMPLE, True, {"enable_thinking": True}),
    ("thinking off", SIMPLE, True, {"enable_thinking": False}),
    ("earlier think stripped", MULTI, True, {}),
    ("earlier think stripped, thinking off", MULTI, True, {"enable_thinking": False}),
    ("last assistant keeps think", LAST_ASSISTANT, False, {}),
    ("reasoning_content", REASONING, False, {}),
    ("tools", TOOLS, True, {"tools": [TOOL]}),
]

out = []
for name, messages, gen, extra in CASES:
    rendered = template.render(messages=messages, add_generation_prompt=gen, **extra)
    out.append({"name": name, "messages": messages, "add_generation_prompt": gen, "extra": extra, "rendered": rendered})
(here / "renders.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
