#!/usr/bin/env bash
# The GPU benchmark: tfjs WebGPU (Dawn on Vulkan) against PyTorch on CUDA, plus the CPU routes, on a
# machine with an NVIDIA GPU but no Node.js and no network (the lent H200).
#
#   scripts/gpu-bench.sh pack         here: builds .gpu-bench/ (git-excluded, about 50 MB): a bundled
#                                     bench.js, the wasm files, the native addon, Dawn's dawn.node,
#                                     this machine's node binary (xz) and Vulkan/EGL loader packages
#   scripts/gpu-bench.sh run [secs]   there, from the repository root, carrying .gpu-bench: unpacks,
#                                     installs the loaders, prints what it found, runs
#                                     `bench --baseline pytorch-cuda` and writes reports to $OUT
#                                     (default: reports/gpu); stops itself after [secs] (default 420)
#
# The bench rewrites its report after every round, so a run cut short still leaves numbers.
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bench

pack() {
  set -e
  npx tsc -p kernel-lib >/dev/null || true # others' type errors must not block the bundle
  npx tsc -p tsconfig.json >/dev/null || true
  node kernel-lib/native/build.js
  test -f build/scripts/bench.js || { echo "gpu-bench: build/scripts/bench.js missing (tsc failed?)"; exit 1; }
  rm -rf "$B" && mkdir -p "$B/app" "$B/native/build/Release" "$B/gl" "$B/webgpu"
  grep -qx '/.gpu-bench/' .git/info/exclude 2>/dev/null || echo '/.gpu-bench/' >>.git/info/exclude
  # One file: the tfjs packages are 300 MB unbundled. tfjs-node stays an optional runtime require.
  npx --yes esbuild@0.24.2 build/scripts/bench.js --bundle --minify --platform=node --target=node20 --log-level=error \
    --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --outfile="$B/app/bench.js"
  # tfjs-backend-wasm loads its .wasm from the directory of the script that holds it: the bundle's.
  cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$B/app/"
  # fast.ts finds the addon at <dir of bench.js>/../native/build/Release.
  cp kernel-lib/native/build/Release/aigc_fast.node "$B/native/build/Release/"
  # backend.ts finds Dawn through require.resolve("webgpu/package.json"): `run` rebuilds that package
  # outside the tree (NODE_PATH) from its package.json and the linux-x64 binary, the only one that travels.
  cp node_modules/webgpu/package.json "$B/webgpu/"
  xz -T2 -9 -c node_modules/webgpu/dist/linux-x64/dawn.node >"$B/webgpu/dawn.node.xz"
  xz -T2 -9 -c "$(command -v node)" >"$B/node.xz"
  # The Vulkan loader and GLVND's EGL/GL for Dawn (the device image has the NVIDIA driver, not these).
  local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  # shellcheck disable=SC2086
  apt-get $o update -qq && (cd "$B/gl" && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  # The device tool carries at most 64 MiB: the working tree and this folder together.
  local tree
  tree=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
  echo "gpu-bench: working tree $((tree / 1048576)) MiB + $B $(($(du -sb "$B" | cut -f1) / 1048576)) MiB (limit 64 together)"
  echo "gpu-bench: packed. On the GPU machine: bash scripts/gpu-bench.sh run  (carry: .gpu-bench)"
}

run() {
  local secs="${1:-420}" out="${OUT:-reports/gpu}" t=/tmp/gpu-bench
  mkdir -p "$t" "$out"
  test -d "$B/app" || { echo "gpu-bench: $B missing: run 'scripts/gpu-bench.sh pack' first and carry $B"; exit 1; }
  # Decompress with Python's lzma: xz may be missing there, python3 is not.
  mkdir -p "$t/node_modules/webgpu/dist/linux-x64"
  cp "$B/webgpu/package.json" "$t/node_modules/webgpu/"
  python3 - "$B" "$t" <<'EOF'
import lzma, os, shutil, sys
b, t = sys.argv[1], sys.argv[2]
for src, dst in ((f"{b}/node.xz", f"{t}/node"), (f"{b}/webgpu/dawn.node.xz", f"{t}/node_modules/webgpu/dist/linux-x64/dawn.node")):
    with lzma.open(src) as f, open(dst, "wb") as g:
        shutil.copyfileobj(f, g)
os.chmod(f"{t}/node", 0o755)
EOF
  export NODE_PATH="$t/node_modules"
  # GPU_BENCH_SKIP_LOADERS=1: a dry run on a machine whose / must not change.
  if [ "${GPU_BENCH_SKIP_LOADERS:-0}" != 1 ]; then
    for f in "$B"/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
  [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$egl"
  {
    echo "== $(date -u) node $("$t/node" --version)"
    nvidia-smi -L 2>&1 | head -2
    echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset} __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-unset}"
    ldconfig -p | grep -E 'libvulkan|libEGL.so' | head -3
    ls /dev/nvidia* 2>&1 | head -3
    python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tail -1
  } 2>&1 | tee "$out/env.txt"
  # The bench: WebGPU and PyTorch-CUDA first, then the CPU routes; sgemm up to 4096 to see GPU throughput.
  timeout "$secs" "$t/node" "$B/app/bench.js" --engines webgpu,pytorch-cuda,wasm+native,pytorch \
    --workloads sgemm-256,sgemm-1024,sgemm-4096,attention,vae,gan,char-gpt \
    --rounds 3 --ms 1000 --baseline pytorch-cuda --out "$out" 2>&1 | tee "$out/bench.log"
  echo "gpu-bench: exit ${PIPESTATUS[0]} (124: stopped at ${secs}s; the report holds the rounds done)"
}

case "${1:-}" in
  pack) pack ;;
  run) run "${2:-}" ;;
  *) sed -n '2,15p' "$0"; exit 2 ;;
esac
