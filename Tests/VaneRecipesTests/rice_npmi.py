"""Independent nPMI for RiceTests: reads {"routed": [[[0/1 per expert] per routed block] per token], "marked": [0/1
per token]} and writes {"npmi": [[value per expert] per block]}, in float64 numpy, from the entropy form
nPMI = (ln p(x,y) - ln p(x) - ln p(y)) / -ln p(x,y), -1 where p(x,y) = 0."""
import json
import sys

import numpy as np

data = json.load(open(sys.argv[1]))
routed = np.array(data["routed"], dtype=np.float64)      # [N, L, E]
marked = np.array(data["marked"], dtype=np.float64)      # [N]
n = routed.shape[0]
pxy = (routed * marked[:, None, None]).sum(0) / n
px = routed.sum(0) / n
py = marked.sum() / n
with np.errstate(divide="ignore", invalid="ignore"):
    npmi = np.where(pxy > 0, (np.log(pxy) - np.log(px) - np.log(py)) / -np.log(pxy), -1.0)
json.dump({"npmi": npmi.tolist()}, open(sys.argv[2], "w"))
