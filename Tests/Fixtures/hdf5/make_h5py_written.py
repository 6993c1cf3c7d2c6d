# Writes h5py-written.h5, the HDF5 file Vane's reader is tested on (Tests/VaneStoreTests). Run once:
#   python3 make_h5py_written.py
import h5py
import numpy as np

with h5py.File("h5py-written.h5", "w") as f:
    f.attrs["title"] = "written by h5py ✓"                       # variable-length UTF-8 string
    f.attrs["count"] = np.int64(-7)
    f.attrs["scale"] = 0.125
    f.attrs["small"] = np.uint8(200)                             # narrower integers widen to Int64
    f.attrs["ids"] = np.array([3, -1, 4], dtype=np.int32)
    f.attrs["weights"] = np.array([0.5, -2.25])
    f.attrs["names"] = ["α", "beta", ""]                         # list of str: variable-length UTF-8 array
    f.attrs["fixed"] = np.bytes_(b"fixed-len")                   # fixed-length ASCII string
    f.attrs["matrix"] = np.zeros((2, 2), dtype=np.int64)         # 2-D: Vane refuses it by name

    d = f.create_dataset("acts/resid", data=np.arange(12, dtype=np.float32).reshape(4, 3) * 0.5 - 1,
                         chunks=(2, 3), maxshape=(None, 3), compression="gzip", compression_opts=4)
    d.attrs["hook"] = "blocks.3.hook_resid_post"
    f.create_dataset("acts/labels", data=np.array([1, 0, -1, 2**40, -(2**40)], dtype=np.int64))
    f.create_dataset("acts/heads", data=np.arange(8, dtype=np.int32).reshape(2, 2, 2) - 3)  # contiguous
    f.create_dataset("text/utf8", data=["héllo", "日本語", "", "🙂 ok"], dtype=h5py.string_dtype("utf-8"))
    f.create_dataset("text/fixed", data=np.array([b"ab", b"cde", b""], dtype="S4"))
    f.create_dataset("doubles", data=np.array([1.0, 2.0]))      # float64: not a Vane dataset type
