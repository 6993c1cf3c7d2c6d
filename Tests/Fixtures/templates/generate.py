"""Writes chat_templates.json: chat templates, conversations and the text jinja2 renders for them.

Run once (python3 generate.py <dir with the .jinja sources>) with jinja2 3.1.6; the environment is set up as
transformers' chat_template_utils._compile_jinja_template does (ImmutableSandboxedEnvironment with trim_blocks,
lstrip_blocks, loopcontrols; tojson = json.dumps(ensure_ascii=False, ...); raise_exception; strftime_now), with
strftime_now reading a fixed clock so that the output is reproducible.
"""
import datetime
import json
import sys
from pathlib import Path

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

NOW = datetime.datetime(2024, 9, 5, 14, 3, 9)  # naive, read as UTC by the Swift test


class GenerationTag(jinja2.ext.Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return NOW.strftime(fmt)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                    extensions=[GenerationTag, jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

src = Path(sys.argv[1])
TEMPLATES = {
    "smollm2": (src / "smollm2_template.jinja").read_text(),
    "qwen2.5": (src / "qwen.jinja").read_text(),
    "llama3": (src / "llama3.jinja").read_text(),
    "llama3.1": (src / "llama31.jinja").read_text(),
    "deepseek-r1-distill": (src / "deepseek.jinja").read_text(),
    "mistral-v0.3": (src / "mistral.jinja").read_text(),
}

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Zürich"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}
SEARCH_TOOL = {"type": "function", "function": {
    "name": "search", "description": "Search the web.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}


def chat(messages, gen=True, bos="<s>", eos="</s>", **extra):
    return {"messages": messages, "add_generation_prompt": gen, "bos_token": bos, "eos_token": eos, **extra}


SIMPLE = [{"role": "user", "content": "What is 2+2?"}]
MULTI = [
    {"role": "system", "content": "  You are terse.  "},
    {"role": "user", "content": "Hi!\n"},
    {"role": "assistant", "content": " Hello. How can I help? "},
    {"role": "user", "content": "Name a prime > 10 — and say \"why\"."},
]
QWEN_TOOLS = [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "user", "content": "Weather in Zürich and Bern?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}},
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Bern", "unit": "celsius"}}}]},
    {"role": "tool", "content": "{\"temp\": 21}"},
    {"role": "tool", "content": "{\"temp\": 19}"},
    {"role": "assistant", "content": "Zürich 21°, Bern 19°."},
    {"role": "user", "content": "Thanks"},
]
LLAMA_TOOLS = [
    {"role": "system", "content": "Use tools when needed."},
    {"role": "user", "content": "Weather in Oslo?"},
    {"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
    {"role": "tool", "content": {"temp": 4, "sky": "rain"}},
    {"role": "assistant", "content": "It is 4° and raining in Oslo."},
]
LLAMA_BUILTIN = [
    {"role": "user", "content": "Search for swift jinja"},
    {"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "brave_search", "arguments": {"query": "swift jinja"}}}]},
    {"role": "ipython", "content": "3 results"},
]
R1 = [
    {"role": "system", "content": "Think step by step."},
    {"role": "user", "content": "What is 6*7?"},
    {"role": "assistant", "content": "<think>\n6*7 = 42, simple.\n</think>\n\nThe answer is 42."},
    {"role": "user", "content": "And 6*8?"},
]
R1_TOOLS = [
    {"role": "user", "content": "Weather in Rome?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}},
        {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Milan\"}"}}]},
    {"role": "tool", "content": "{\"temp\": 25}"},
    {"role": "tool", "content": "{\"temp\": 22}"},
    {"role": "assistant", "content": "Rome 25°, Milan 22°."},
]
MISTRAL_TOOLS = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "tool_calls": [{"id": "abc123XYZ", "type": "function",
                                          "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "tool_call_id": "abc123XYZ", "content": {"temp": 18}},
    {"role": "assistant", "content": "18° in Paris."},
    {"role": "user", "content": "And Lyon?"},
]

RENDERS = [
    ("smollm2 user only", "smollm2", chat(SIMPLE)),
    ("smollm2 multi-turn with system", "smollm2", chat(MULTI, gen=False)),
    ("qwen2.5 no system", "qwen2.5", chat(SIMPLE)),
    ("qwen2.5 with system", "qwen2.5", chat(MULTI)),
    ("qwen2.5 tools", "qwen2.5", chat(QWEN_TOOLS, tools=[WEATHER_TOOL, SEARCH_TOOL])),
    ("qwen2.5 tools without system", "qwen2.5", chat(SIMPLE, tools=[SEARCH_TOOL])),
    ("llama3 multi-turn", "llama3", chat(MULTI, bos="<|begin_of_text|>", eos="<|eot_id|>")),
    ("llama3.1 default date", "llama3.1", chat(MULTI, bos="<|begin_of_text|>", eos="<|eot_id|>")),
    ("llama3.1 date_string", "llama3.1", chat(SIMPLE, bos="<|begin_of_text|>", date_string="05 Sep 2024")),
    ("llama3.1 tools in user message", "llama3.1", chat(LLAMA_TOOLS, bos="<|begin_of_text|>", tools=[WEATHER_TOOL])),
    ("llama3.1 tools in system message", "llama3.1",
     chat(LLAMA_TOOLS, bos="<|begin_of_text|>", tools=[WEATHER_TOOL], tools_in_user_message=False)),
    ("llama3.1 builtin tools", "llama3.1",
     chat(LLAMA_BUILTIN, bos="<|begin_of_text|>", builtin_tools=["brave_search", "code_interpreter", "wolfram_alpha"])),
    ("deepseek-r1-distill think stripped", "deepseek-r1-distill",
     chat(R1, bos="<｜begin▁of▁sentence｜>", eos="<｜end▁of▁sentence｜>")),
    ("deepseek-r1-distill tool calls", "deepseek-r1-distill",
     chat(R1_TOOLS, bos="<｜begin▁of▁sentence｜>", eos="<｜end▁of▁sentence｜>")),
    ("mistral-v0.3 system and turns", "mistral-v0.3", chat(MULTI)),
    ("mistral-v0.3 tools", "mistral-v0.3", chat(MISTRAL_TOOLS, tools=[WEATHER_TOOL, SEARCH_TOOL])),
    ("mistral-v0.3 roles must alternate", "mistral-v0.3",
     chat([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])),
]

D = {"b": 2, "a": 1, "c": [1, 2]}
MSGS = [{"role": "user", "content": "u1", "flag": True}, {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u2", "flag": False}]
OBJ = {"name": "Zürich", "nested": {"list": [1, 2.5, None, True], "empty": {}, "none": []}, "quote": "say \"hi\"\n"}

CASES = [
    ("lstrip and trim blocks", "  {% if true %}\n    yes\n  {% endif %}\nafter\n", {}),
    ("minus modifiers", "{{ 'a' }}  \n  {{- 'b' -}}  \n  c {%- if true -%}  d  {%- endif -%}  \n e", {}),
    ("comments", "{#- comment -#}  x  {# c2 #}\ny\n    {# indented #}\nz", {}),
    ("only one trailing newline dropped", "{% if true %}A{% endif %}\n\n", {}),
    ("no lstrip after output on the same line", "  {{ 'v' }}  {% if true %}t{% endif %}\n  {% if true %}u{% endif %}", {}),
    ("plus modifiers", "  {%+ if true %}x{% endif +%}\nnext", {}),
    ("loop variables", "{% for x in items %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/"
     "{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}:{{ x }};{% endfor %}",
     {"items": ["a", "b", "c"]}),
    ("loop prev and next", "{% for x in [1, 2, 3] %}[{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}]{% endfor %}", {}),
    ("loop else", "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}no{% endfor %}", {}),
    ("loop filter", "{% for x in range(10) if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %}", {}),
    ("tuple unpacking", "{% for k, v in d.items() %}{{ k }}={{ v }} {% endfor %}|{% for k, v in d|items %}{{ k }}{% endfor %}",
     {"d": D}),
    ("break and continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}"
     "{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("loop scoping", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = i * 10 %}{{ x }} {% endfor %}{{ x }}", {}),
    ("if sets leak out", "{% if true %}{% set y = 'set in if' %}{% endif %}{{ y }}", {}),
    ("nested loops", "{% for a in [1, 2] %}{% set outer = loop %}{% for b in ['x', 'y'] %}"
     "{{ outer.index }}{{ loop.index }}{{ b }} {% endfor %}{% endfor %}", {}),
    ("namespace", "{% set ns = namespace(total=0, seen=false) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}"
     "{% if i == 2 %}{% set ns.seen = true %}{% endif %}{% endfor %}{{ ns.total }} {{ ns.seen }}", {}),
    ("if elif else", "{% for n in [1, 5, 10] %}{% if n < 3 %}small{% elif n < 7 %}mid{% else %}big{% endif %} {% endfor %}", {}),
    ("literals", "{{ 'a\\tb\\\\n' }}|{{ \"q'uote\" }}|{{ 42 }}|{{ 3.5 }}|{{ 1e3 }}|{{ 1_000 }}|{{ true }}|{{ False }}|"
     "{{ none }}|{{ None }}|{{ [1, 'two', 3.0, none, true] }}|{{ {'k': 'v', 'n': 1} }}|{{ (1, 2) | list }}", {}),
    ("string escapes", "{{ '\\u00e9\\x41\\n' }}|{{ \"tab\\there\" }}|{{ 'a' 'b' }}", {}),
    ("repr of strings in lists", "{{ [\"it's\", 'say \"hi\"', 'back\\\\slash', 'new\\nline'] }}", {}),
    ("arithmetic", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 10 / 5 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} "
     "{{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1.5 + 1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ -(3) }}", {}),
    ("string operators", "{{ 'a' ~ 1 ~ none ~ undefined_var }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ 'x' + 'y' }}", {}),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ items|length - 1 }} {{ not false and true }} "
     "{{ 1 if false else 2 }} [{{ 'x' if false }}] {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 2 * 3 ~ 'x' }}",
     {"items": [1, 2, 3]}),
    ("comparisons", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 3 > 4 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} "
     "{{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }} {{ 'ell' in 'hello' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} "
     "{{ 3 not in [1, 2] }} {{ 'z' not in 'abc' }} {{ [1, 2] < [1, 3] }}", {}),
    ("and or return operands", "{{ 0 or 'default' }} {{ 'x' and 'y' }} [{{ '' and 'y' }}] {{ none or [] or 'last' }}", {}),
    ("tests", "{{ x is defined }} {{ y is undefined }} {{ none is none }} {{ 's' is string }} {{ {} is mapping }} "
     "{{ [] is iterable }} {{ 's' is iterable }} {{ 1 is number }} {{ 1.5 is number }} {{ 's' is number }} "
     "{{ [] is sequence }} {{ true is true }} {{ 1 is true }} {{ false is false }} {{ 3 is equalto 3 }} "
     "{{ 3 is eq(4) }} {{ 4 is divisibleby 2 }} {{ 3 is odd }} {{ 2 is even }} {{ x is not none }} "
     "{{ d is mapping }} {{ d is not string }} {{ 5 is integer }} {{ 5.0 is float }} {{ true is boolean }} "
     "{{ 'abc' is lower }} {{ 2 is in [1, 2] }} {{ not x is none }}", {"x": 1, "d": D}),
    ("attribute and subscript", "{{ d.a }} {{ d['b'] }} [{{ d.missing }}] {{ l[0] }} {{ l[-1] }} {{ l[1:] }} {{ l[::-1] }} "
     "{{ l[:-1] }} [{{ l[10] }}] {{ l[1:3] }} {{ l[::2] }} {{ l[-2:] }} {{ l.0 }} {{ m[0]['role'] }} {{ m[1].content }}",
     {"d": D, "l": [10, 20, 30, 40], "m": MSGS}),
    ("string slices", "{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ 'hello'[-1] }} {{ 'héllo'[1] }} {{ 'hello'[:-2] }}", {}),
    ("undefined", "[{{ nothing }}][{{ nothing|length }}][{{ nothing|default('dflt') }}][{{ ''|default('empty', true) }}]"
     "[{% for x in nothing %}x{% endfor %}][{{ nothing is defined }}][{{ d.missing is defined }}][{{ nothing|string }}]"
     "[{{ 'no' if nothing else 'falsy' }}][{{ nothing == none }}][{{ d.missing|default(d.a) }}]", {"d": D}),
    ("string methods", "{{ '  x  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  x '.lstrip() }}|{{ ' x  '.rstrip() }}|"
     "{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c '.split(none, 1) }}|"
     "{{ 'hello'.startswith('he') }}|{{ 'hello'.endswith(('lo', 'x')) }}|{{ 'Hi'.upper() }}{{ 'Hi'.lower() }}|"
     "{{ 'aXbXc'.replace('X', '-') }}|{{ 'aXbXc'.replace('X', '-', 1) }}|{{ 'hello world-wide'.title() }}|"
     "{{ 'hELLO'.capitalize() }}|{{ 'a</think>b</think>c'.split('</think>')[-1] }}|{{ 'abcabc'.find('c') }}|"
     "{{ '-'.join(['x', 'y']) }}", {}),
    ("dict methods", "{% for k in d.keys() %}{{ k }}{% endfor %}|{% for v in d.values() %}{{ v }}{% endfor %}|"
     "{{ d.get('a') }} {{ d.get('zz', 'none!') }} {{ d.get('zz') }}|{{ d.items()|list|length }}", {"d": D}),
    ("filters", "{{ '  t  '|trim }}|{{ [1, 2, 3]|length }}|{{ 'abc'|length }}|{{ d|length }}|{{ 5|string ~ 'x' }}|"
     "{{ 'aB'|upper }}{{ 'aB'|lower }}|{{ [3, 1, 2]|first }}{{ [3, 1, 2]|last }}|{{ [1, 2, 3]|join(', ') }}|"
     "{{ 'a-b-c'|replace('-', '+') }}|{{ 'abc'|list }}|{{ '42'|int + 1 }}|{{ 3.9|int }}|{{ 'x'|int }}|{{ '2.5'|int }}|"
     "{{ 'word'|capitalize }}|{{ d|list }}|{{ [3, 1, 2]|sort }}|{{ [1, 2]|reverse|list }}|{{ 'abc'|reverse }}|"
     "{{ -3|abs }}|{{ 'my title'|title }}|{{ '3'|float }}|{{ 'xxyy'|trim('x') }}|{{ [1, 1, 2]|unique|list }}|"
     "{{ 'a b'|count }}|{{ d|first }}|{{ 'xyz'|d('q') }}", {"d": D}),
    ("tojson", "{{ obj|tojson }}\n{{ obj|tojson(indent=2) }}\n{{ 'é\"\\n\\t'|tojson }}\n{{ [1, 2.5, true, none]|tojson }}\n"
     "{{ {}|tojson(indent=4) }}|{{ []|tojson }}|{{ obj|tojson(sort_keys=true) }}|{{ 'é'|tojson(ensure_ascii=true) }}|"
     "{{ [1, [2]]|tojson(separators=(',', ':')) }}|{{ obj.nested|tojson(indent='\\t') }}", {"obj": OBJ}),
    ("select and map", "{{ msgs|selectattr('role', 'equalto', 'user')|map(attribute='content')|join(',') }}|"
     "{{ msgs|rejectattr('role', 'equalto', 'user')|list|length }}|{{ msgs|selectattr('flag')|list|length }}|"
     "{{ [1, 2, 3, 4]|select('odd')|list }}|{{ ['a', 'b']|reject('equalto', 'a')|list }}|"
     "{{ ['a', 'b']|map('upper')|join }}|{{ msgs|map(attribute='flag', default='-')|list }}|"
     "{{ msgs|selectattr('flag', 'defined')|list|length }}|{{ msgs|join(',', attribute='role') }}", {"msgs": MSGS}),
    ("set block", "{% set greeting %}Hello {{ name }}!{% endset %}[{{ greeting }}]", {"name": "Ada"}),
    ("macros", "{% macro show(m, suffix='.') %}<{{ m.role }}:{{ m.content }}{{ suffix }}>{% endmacro %}"
     "{% for m in msgs %}{{ show(m) }}{{ show(m, suffix='!') }}{% endfor %}", {"msgs": MSGS}),
    ("strftime_now", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %j %I%p %a %y') }}", {}),
    ("llama 3.2 date block", "{%- if not date_string is defined %}\n    {%- if strftime_now is defined %}\n"
     "        {%- set date_string = strftime_now(\"%d %b %Y\") %}\n    {%- else %}\n"
     "        {%- set date_string = \"26 Jul 2024\" %}\n    {%- endif %}\n{%- endif %}\n"
     "{{- \"Today Date: \" + date_string }}", {}),
    ("range and dict literal", "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(5, 0, -2)|list }} "
     "{% for i in range(3) %}{{ i }}{% endfor %} {{ {'a': {'b': 1}}['a']['b'] }} {{ dict(x=1, y='z') }}", {}),
    ("generation block", "A{% generation %}gen {{ 1 + 1 }}{% endgeneration %}B", {}),
    ("unicode", "{{ 'héllo'|length }} {{ 'héllo'|upper }} {{ '日本語'|list|join('-') }} {{ 'ß'|upper }}", {}),
    ("conditional and filters", "{{ (items|length > 2) and 'many' or 'few' }} {{ 'yes' if items else 'no' }} "
     "{{ items[0] if items|length > 0 else none }}", {"items": [1, 2, 3]}),
    ("indent filter", "{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}", {}),
    ("multi-line tags", "{{\n  'x'\n  ~ 'y'\n}}{%\n  if true\n%}\nZ{% endif %}", {}),
    ("raise_exception", "{% if x %}{{ raise_exception('Bad input: ' ~ x) }}{% endif %}after", {"x": 5}),
]


def render(source, context):
    try:
        return {"expected": env.from_string(source).render(**context)}
    except jinja2.exceptions.TemplateError as e:
        assert type(e) is jinja2.exceptions.TemplateError, f"{type(e).__name__}: {e}"  # only raise_exception
        return {"error": str(e)}


out = {
    "generator": f"jinja2 {jinja2.__version__}, environment as transformers' apply_chat_template builds it "
                 "(see generate.py)",
    "now": NOW.isoformat() + "Z",
    "templates": TEMPLATES,
    "renders": [{"name": n, "template": t, "context": c, **render(TEMPLATES[t], c)} for n, t, c in RENDERS],
    "cases": [{"name": n, "source": s, "context": c, **render(s, c)} for n, s, c in CASES],
}
Path(__file__).with_name("chat_templates.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
print(f"{len(out['renders'])} renders, {len(out['cases'])} cases")
