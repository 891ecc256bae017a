"""Launch and code-generation constants of the flash kernels: values only; what each was measured
against is in docs/notes/flash.md. Read them as ``tuning.NAME`` (probes set them between builds)."""

NB = 8  # samples per forward thread: they share each per-edge table load
INPUT_SPLIT = 8  # warps of a forward block, warp w over inputs w, w + INPUT_SPLIT, ...
MAX_INPUT_CHUNK = 64  # inputs whose x-only values a forward block stages at once
STAGING_BYTES = 32768  # shared memory for that staging (double precision)
EDGE_THREADS = 64  # threads of a per-edge table block: few edges still spread over all SMs

BACKWARD_CHUNK = {4: 32, 8: 16}  # samples a backward block stages at once, by element size
BACKWARD_WARPS = 8  # warps of a backward block
TARGET_BACKWARD_THREADS = 160_000  # backward threads over all batch tiles: enough resident work for 132 SMs
MAX_TILE = 2048  # samples of a backward batch tile
MIN_TILE = 16
MAX_TILES = 65535  # the grid's y extent

PARAM_WARPS = 8  # warps of a parameter-gradient block (32 edges)
MAX_KEPT_STATES = 3  # the backward keeps the state after each data gate for circuits of at most this many
MAX_FOURIER_DEGREE = 5  # largest degree of the Fourier kernels (K = 6 spills in double)
NODE_SHARED_BYTES = 32768  # shared memory of the Fourier parameter kernel's node-walk sums (double precision)
