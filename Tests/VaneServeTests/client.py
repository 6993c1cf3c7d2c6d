"""What the server tests ask of the real `openai` client (and, for streams cut short, of raw HTTP).

    python3 client.py BASE chat MODEL PROMPT MAX_TOKENS      plain and streamed chat, printed as JSON
    python3 client.py BASE batch MODEL SPEC.json              SPEC's requests at once (threads), texts as JSON
    python3 client.py BASE stream MODEL PROMPT MAX_TOKENS     one streamed completion, a line per chunk as it comes
    python3 client.py BASE hangup MODEL PROMPT CHUNKS         reads CHUNKS chunks of a long stream, then closes
                                                              (CHUNKS 0: a long answer not streamed, closed after 1 s)
Every request has a timeout: no loop here waits without bound.
"""
import json
import sys
import time
import concurrent.futures
import http.client
import urllib.parse

import openai

base, command, model = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base + "/v1", api_key="unused", timeout=120, max_retries=0)

if command == "chat":
    prompt, max_tokens = sys.argv[4], int(sys.argv[5])
    messages = [{"role": "user", "content": prompt}]
    plain = client.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=max_tokens)
    pieces, finish, usage = [], None, None
    stream = client.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=max_tokens,
                                            stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage.model_dump()
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    print(json.dumps({
        "models": [m.id for m in client.models.list().data],
        "plain": plain.choices[0].message.content,
        "plain_finish": plain.choices[0].finish_reason,
        "plain_usage": plain.usage.model_dump(),
        "streamed": "".join(pieces),
        "streamed_pieces": len(pieces),
        "streamed_finish": finish,
        "streamed_usage": usage,
    }))

elif command == "batch":
    spec = json.load(open(sys.argv[4]))

    def one(request):
        extra = {"steering": request["steering"]} if request.get("steering") else None
        r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": request["prompt"]}],
                                           temperature=0, max_tokens=request["max_tokens"], extra_body=extra)
        return r.choices[0].message.content

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(spec)) as pool:
        print(json.dumps(list(pool.map(one, spec))))

elif command == "stream":
    prompt, max_tokens = sys.argv[4], int(sys.argv[5])
    stream = client.completions.create(model=model, prompt=prompt, temperature=0, max_tokens=max_tokens, stream=True)
    for chunk in stream:
        print(json.dumps({"text": chunk.choices[0].text, "finish": chunk.choices[0].finish_reason}), flush=True)
    print(json.dumps({"done": True}), flush=True)

elif command == "hangup":
    prompt, chunks = sys.argv[4], int(sys.argv[5])
    url = urllib.parse.urlparse(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": 2000, "temperature": 0, "stream": chunks > 0})
    connection.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
    if chunks == 0:
        time.sleep(1)
        connection.sock.close()
        print(json.dumps({"chunks": 0}))
        sys.exit(0)
    response = connection.getresponse()
    seen = 0
    while seen < chunks:
        line = response.fp.readline()
        if not line:
            break
        if line.startswith(b"data: "):
            seen += 1
    connection.sock.close()
    print(json.dumps({"chunks": seen}))
