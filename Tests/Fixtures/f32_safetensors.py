"""F32 safetensors files as numpy arrays, for the fixture scripts in these folders (numpy only, no safetensors
package): the file is an 8-byte little-endian header length, the JSON header {name: {dtype, shape, data_offsets}}
padded with spaces to a multiple of 8, then the tensors' bytes."""
import json
import struct

import numpy as np


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        tensors[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).copy()
    return tensors


def write(path, tensors, metadata=None):
    """Tensors in name order; `metadata` becomes the header's __metadata__ when given."""
    header, offset, blobs = ({"__metadata__": metadata} if metadata else {}), 0, []
    for name in sorted(tensors):
        blob = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
