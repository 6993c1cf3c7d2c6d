# Writes ggufpy-ref.gguf with gguf-py 0.19.0 (pip install gguf==0.19.0 numpy), the reference for Vane's GGUF
# metadata reader and its Q8_0 / Q4_0 / Q4_1 quantizers. Run from this folder: python3 make.py
import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V

rng = np.random.default_rng(20240917)
blocks = []
# Rounding ties: with amax 127 (Q8_0 d = 1) x.5 rounds away from zero; with max -8 (Q4_0 d = 1) and with
# min 0 / max 15 (Q4_1 d = 1) the +8.5 / +0.5 then truncate path is exercised on exact halves.
blocks.append(np.array([127, 2.5, -3.5, 0.5, -0.5, 1.5, -1.5, 126.5] + [0] * 24, dtype=np.float32))
blocks.append(np.array([-8, 0.5, -0.5, 7, 6.5, -7.5, 3.5, -3.5] + [1] * 24, dtype=np.float32))
blocks.append(np.array([0, 15, 7.5, 0.5, 14.5, 3.5, 11.5, 8.5] + [2] * 24, dtype=np.float32))
blocks.append(np.zeros(32, dtype=np.float32))                           # d = 0
blocks.append(np.full(32, 3.25, dtype=np.float32))                      # max = min
blocks.append((rng.standard_normal(32) * 1e-6).astype(np.float32))      # d in F16's subnormal range
blocks.append((rng.standard_normal(32) * 1e4).astype(np.float32))       # large d
blocks.append(np.array([5.0] + [-5.0] * 31, dtype=np.float32))          # first of equal magnitudes wins
while len(blocks) < 64:
    scale = 10.0 ** rng.uniform(-3, 2)
    blocks.append((rng.standard_normal(32) * scale + rng.uniform(-1, 1) * scale).astype(np.float32))
x = np.concatenate(blocks).reshape(8, 256)

w = gguf.GGUFWriter("ggufpy-ref.gguf", arch="ggufpyref")
w.add_uint8("ref.uint8", 200)
w.add_int8("ref.int8", -100)
w.add_uint16("ref.uint16", 60000)
w.add_int16("ref.int16", -30000)
w.add_uint32("ref.uint32", 4000000000)
w.add_int32("ref.int32", -2000000000)
w.add_float32("ref.float32", 0.1)
w.add_bool("ref.bool", True)
w.add_string("ref.string", "héllo ✓ wörld")
w.add_uint64("ref.uint64", 2**63 + 5)
w.add_int64("ref.int64", -(2**62))
w.add_float64("ref.float64", 2.718281828459045)
w.add_array("ref.ints", [1, -2, 3])
w.add_array("ref.strings", ["a", "", "Ġthe", "<|im_start|>"])
w.add_key_value("ref.nested", [[1, 2], [3], [4, 5, 6]], V.ARRAY, sub_type=V.ARRAY)
w.add_tensor("input", x)
for qtype in (Q.Q8_0, Q.Q4_0, Q.Q4_1):
    w.add_tensor(f"ref.{qtype.name}", gguf.quants.quantize(x, qtype), raw_dtype=qtype)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
