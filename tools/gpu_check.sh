#!/usr/bin/env bash
# gpu_check.sh: gan-bias's check on a GPU machine that has PyTorch with CUDA and an NVIDIA
# driver but no Rust toolchain (and maybe no Vulkan loader). Two halves:
#
#   tools/gpu_check.sh pack [--out DIR] [--real DIR]
#       Here (Debian x86_64, cargo): builds the release binary and the integration-test
#       binary, and gathers into one git-ignored folder (default gpu-pack/, under 64 MiB):
#         bin/gan-bias, bin/integration     the two binaries, stripped
#         weights/ tests/fixtures/ shaders/  what the binary and the shader tests read
#         tools/                           bench_pytorch.py, gan_models.py, gpu_summary.py
#         lib/                             the Vulkan and EGL loaders (libvulkan1, libegl1,
#                                          libglvnd0, libopengl0, libgl1, libglx0, libgles2)
#                                          and the X11 client libraries NVIDIA's Vulkan ICD
#                                          (libGLX_nvidia) links, as Debian amd64 packages
#                                          fetched with `apt-get download` and unpacked with
#                                          `dpkg -x` (into the folder, never into /)
#         real/                            with --real DIR: the real checkpoints
#         gpu_check.sh, MANIFEST           this script; what was packed, from which commit
#       Set CARGO_BUILD_JOBS to limit the build's jobs.
#
#   DIR/gpu_check.sh run [--out DIR] [--real DIR] [--peak-gflops N] [--python PY]
#                        [--budget S] [--quick] [--allow-cpu-adapter]
#       There, from the packed folder (copy it over whole). Sets LD_LIBRARY_PATH to the
#       unpacked loaders; checks the loader, the Vulkan driver manifest (falling back to
#       /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json as VK_DRIVER_FILES, and to
#       /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json for EGL, where the
#       default search finds no NVIDIA one) and the driver (nvidia-smi); `gan-bias info`
#       must list a Vulkan adapter that is not a CPU, else it stops there; then the shader
#       tests (the integration binary's `ops::` and `shaders::` tests, on the best Vulkan
#       adapter: GAN_BIAS_TEST_ADAPTERS=vulkan unless set), `gan-bias bench --backend
#       vulkan` at the notebook's size (256 images) and `gan-bias probe` (its probe_seconds),
#       on the bundled weights and on the real checkpoints where found,
#       tools/bench_pytorch.py on CUDA where torch sees a GPU, and `bench compare` of each
#       pair. Everything goes to --out (default gpu-results/):
#       logs/, steps.tsv, the JSON/CSV files, compare-*.txt and summary.md (each kernel's
#       percentage of the GPU's fp32 peak, the big convolutions against the 25% goal, the
#       probe's time against PyTorch CUDA eager against the 2x goal). Every step runs under
#       a timeout, all within --budget seconds (default 450: under 8 minutes).
#         --real DIR   the real checkpoints: dcgan_tutorial_digiface_generator.pth (or
#                      generator.pth / generator.safetensors) and coursera_celeba40_classifier.pth
#                      (or classifier.pth / classifier.safetensors); default: the packed real/,
#                      $GAN_BIAS_SHARED, or shared/fixtures beside or above the folder
#         --peak-gflops N   the GPU's fp32 peak; default: the table below, by the GPU's name
#         --quick      a few images and steps (a smoke run, not the notebook's size)
#         --allow-cpu-adapter   accept a software adapter such as lavapipe: a dry run of this
#                      script on a machine without a GPU. Its figures are no GPU result.
#
# Where the binaries find their files: the integration tests and the binary's bundled
# weights were located through CARGO_MANIFEST_DIR, the build machine's checkout, fixed at
# compile time. Rather than rebuilding that path on the GPU machine, both read
# GAN_BIAS_ROOT first (src/load.rs `project_root`, used by `bundled()` and the tests'
# `fixture()` and shader sources), which `run` sets to the packed folder, laid out as the
# repository is (weights/, tests/fixtures/, shaders/). Without it they use the checkout.

set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIMIT_MIB=64
LOADER_PACKAGES=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
# libGLX_nvidia.so.0, the library of NVIDIA's Vulkan ICD, links libX11 and libXext.
X11_PACKAGES=(libx11-6 libx11-data libxext6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0)
GEN_NAMES=(dcgan_tutorial_digiface_generator.pth generator.pth generator.safetensors)
CLF_NAMES=(coursera_celeba40_classifier.pth classifier.pth classifier.safetensors)

say() { echo "gpu_check: $*" >&2; }
die() {
    echo "gpu_check: error: $*" >&2
    exit 1
}
usage() {
    sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ------------------------------------------------------------------------------------------
# pack

pack() {
    local out="" real=""
    while (($#)); do
        case "$1" in
            --out) out="${2:?--out needs a folder}"; shift 2 ;;
            --real) real="${2:?--real needs a folder}"; shift 2 ;;
            -h | --help) usage ;;
            *) die "pack: unknown argument $1" ;;
        esac
    done
    local repo
    repo="$(git -C "$here" rev-parse --show-toplevel 2>/dev/null)" || die "pack runs from a checkout (tools/gpu_check.sh)"
    cd "$repo" || die "cannot enter $repo"
    out="${out:-$repo/gpu-pack}"
    mkdir -p "$out" && out="$(cd "$out" && pwd)" || die "cannot create $out"
    [[ "$out" != "$repo" && "$out" != / ]] || die "--out must be a folder of its own"
    for tool in cargo apt-get dpkg; do
        command -v "$tool" >/dev/null || die "pack needs $tool"
    done

    say "building the release binary"
    cargo build --release --bin gan-bias || die "cargo build failed"
    say "building the integration-test binary"
    local messages
    messages="$(mktemp)"
    cargo test --release --no-run --test integration --message-format=json >"$messages" || die "cargo test --no-run failed"
    # The test target's artifact line: {"reason":"compiler-artifact",...,"name":"integration",...,"executable":"..."}.
    local test_bin
    test_bin="$(grep '"reason":"compiler-artifact"' "$messages" | grep '"name":"integration"' |
        grep -o '"executable":"[^"]*"' | tail -n 1 | sed 's/^"executable":"//; s/"$//')"
    rm -f "$messages"
    [[ -n "$test_bin" && -x "$test_bin" ]] || die "no integration-test executable in cargo's output"

    say "gathering into $out"
    rm -rf "${out:?}"/{bin,lib,weights,tests,shaders,tools,real,MANIFEST,gpu_check.sh}
    mkdir -p "$out"/{bin,lib,tests,tools}
    cp target/release/gan-bias "$out/bin/gan-bias" && cp "$test_bin" "$out/bin/integration" || die "cannot copy the binaries"
    if command -v strip >/dev/null; then
        strip "$out/bin/gan-bias" "$out/bin/integration" || say "warning: strip failed; the binaries keep their symbols"
    fi
    cp -r weights shaders "$out/" && cp -r tests/fixtures "$out/tests/" || die "cannot copy weights/, shaders/, tests/fixtures/"
    cp tools/bench_pytorch.py tools/gan_models.py tools/gpu_summary.py "$out/tools/" || die "cannot copy the Python tools"
    cp "$here/gpu_check.sh" "$out/gpu_check.sh" && chmod +x "$out/gpu_check.sh"

    say "fetching the loader packages"
    local debs apt_options=(-q -oAPT::Architecture=amd64)
    debs="$(mktemp -d)"
    # As root, apt downloads as its sandbox user, who cannot write a private temporary folder.
    (($(id -u) == 0)) && apt_options+=(-oAPT::Sandbox::User=root)
    (cd "$debs" && apt-get download "${apt_options[@]}" "${LOADER_PACKAGES[@]}" "${X11_PACKAGES[@]}") ||
        die "apt-get download failed (is the package index there? apt-get update)"
    local deb versions=""
    for deb in "$debs"/*.deb; do
        dpkg -x "$deb" "$out/lib" || die "dpkg -x $deb failed"
        versions+="  $(dpkg-deb -W --showformat='${Package} ${Version} ${Architecture}' "$deb")"$'\n'
    done
    rm -rf "$debs"
    # Keep the libraries and each package's copyright; drop the rest of usr/share.
    find "$out/lib/usr/share" -mindepth 1 -maxdepth 1 ! -name doc -exec rm -rf {} + 2>/dev/null
    find "$out/lib/usr/share/doc" -type f ! -name copyright -delete 2>/dev/null

    if [[ -n "$real" ]]; then
        local gen clf
        gen="$(first_of "$real" "${GEN_NAMES[@]}")" || die "--real $real: no generator (${GEN_NAMES[*]})"
        clf="$(first_of "$real" "${CLF_NAMES[@]}")" || die "--real $real: no classifier (${CLF_NAMES[*]})"
        mkdir -p "$out/real" && cp "$gen" "$clf" "$out/real/" || die "cannot copy the real checkpoints"
    fi

    local glibc
    glibc="$(objdump -T "$out/bin/gan-bias" "$out/bin/integration" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
    {
        echo "gan-bias GPU pack"
        echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
        echo "packed: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
        echo "built in: $repo"
        echo "glibc needed: ${glibc:-unknown}"
        echo "integration test binary: $(basename "$test_bin")"
        echo "packages:"
        printf '%s' "$versions"
    } >"$out/MANIFEST"

    local bytes mib
    bytes="$(du -sb "$out" | cut -f1)"
    mib="$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')"
    if ((bytes > LIMIT_MIB * 1024 * 1024)); then
        die "$out is $mib MiB, over the $LIMIT_MIB MiB limit"
    fi
    echo "size: $mib MiB" >>"$out/MANIFEST"
    say "packed $out ($mib MiB, limit $LIMIT_MIB MiB); on the GPU machine: $(basename "$out")/gpu_check.sh run"
}

# The first of the files NAMES... that exists in DIR.
first_of() {
    local dir="$1" name
    shift
    for name in "$@"; do
        if [[ -f "$dir/$name" ]]; then
            echo "$dir/$name"
            return 0
        fi
    done
    return 1
}

# ------------------------------------------------------------------------------------------
# run

# The GPU's dense fp32 (non-tensor-core) peak in GFLOP/s, by name (lower case), at boost
# clock, from the vendors' data sheets: H100 SXM5 67, H100 PCIe 51, H100 NVL 60 TFLOP/s (NVIDIA
# H100 Tensor Core GPU datasheet); H200 SXM 67, H200 NVL 60 (NVIDIA H200 datasheet); GH200 67
# (NVIDIA GH200 Grace Hopper Superchip datasheet); A100 19.5 (NVIDIA A100 datasheet); A10 31.2
# (NVIDIA A10 datasheet); L4 30.3 (NVIDIA L4 datasheet); L40S 91.6 (NVIDIA L40S datasheet);
# L40 90.5 (NVIDIA L40 datasheet); T4 8.1 (NVIDIA T4 datasheet); V100 SXM2 15.7, V100 PCIe 14
# (NVIDIA V100 datasheet); GeForce RTX 4090 82.6 (NVIDIA Ada GPU architecture whitepaper);
# GeForce RTX 3090 35.6 (NVIDIA Ampere GA102 GPU architecture whitepaper); RTX A6000 38.7
# (NVIDIA RTX A6000 datasheet); RTX 6000 Ada 91.1 (NVIDIA RTX 6000 Ada datasheet). Nothing
# for a name not listed: pass --peak-gflops.
fp32_peak_gflops() {
    local name b='(^|[^a-z0-9])' e='($|[^a-z0-9])'
    name="$(echo "$1" | tr '[:upper:]' '[:lower:]')"
    [[ "$name" == *laptop* || "$name" == *mobile* ]] && return 1
    if [[ "$name" =~ gh200 ]]; then echo 67000
    elif [[ "$name" =~ h200.*nvl ]]; then echo 60000
    elif [[ "$name" =~ h200 ]]; then echo 67000
    elif [[ "$name" =~ h100.*nvl ]]; then echo 60000
    elif [[ "$name" =~ h100.*pcie ]]; then echo 51000
    elif [[ "$name" =~ h100 ]]; then echo 67000
    elif [[ "$name" =~ a100 ]]; then echo 19500
    elif [[ "$name" =~ ${b}a10${e} ]]; then echo 31200
    elif [[ "$name" =~ l40s ]]; then echo 91600
    elif [[ "$name" =~ ${b}l40${e} ]]; then echo 90500
    elif [[ "$name" =~ ${b}l4${e} ]]; then echo 30300
    elif [[ "$name" =~ ${b}t4${e} ]]; then echo 8100
    elif [[ "$name" =~ v100.*pcie ]]; then echo 14000
    elif [[ "$name" =~ v100 ]]; then echo 15700
    elif [[ "$name" =~ "rtx 6000 ada" ]]; then echo 91100
    elif [[ "$name" =~ "rtx a6000" ]]; then echo 38700
    elif [[ "$name" =~ "rtx 4090"$ ]]; then echo 82600
    elif [[ "$name" =~ "rtx 3090"$ ]]; then echo 35600
    else return 1
    fi
}

# step NAME MAX CMD...: CMD with its output in logs/NAME.log, under a timeout of MAX seconds
# or what the budget has left (keeping 20 s for the summary), its outcome in steps.tsv.
step() {
    local name="$1" max="$2"
    shift 2
    local left=$((DEADLINE - SECONDS - 20))
    local limit=$((max < left ? max : left))
    if ((limit < 5)); then
        printf '%s\tskipped (out of time)\t0\n' "$name" >>"$OUT/steps.tsv"
        say "$name: skipped, out of time"
        return 124
    fi
    local start=$SECONDS rc status
    say "$name: running (timeout ${limit}s)"
    timeout --kill-after=10 "$limit" "$@" >"$OUT/logs/$name.log" 2>&1
    rc=$?
    case "$rc" in
        0) status=ok ;;
        124 | 137) status="timed out after ${limit}s" ;;
        *) status="failed (exit $rc)" ;;
    esac
    printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - start))" >>"$OUT/steps.tsv"
    say "$name: $status in $((SECONDS - start)) s (log: logs/$name.log)"
    return "$rc"
}

# Where a Vulkan loader looks for driver manifests by default.
default_icds() {
    local dirs d
    dirs="${XDG_CONFIG_DIRS:-/etc/xdg}:/etc:${XDG_DATA_HOME:-${HOME:-/root}/.local/share}:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}"
    local IFS=:
    for d in $dirs; do
        ls "$d"/vulkan/icd.d/*.json 2>/dev/null
    done
}

# The library a driver manifest names, resolved, and what it lacks (ldd's "not found").
check_manifest() {
    local json="$1" lib path=""
    lib="$(grep -o '"library_path"[^,}]*' "$json" | sed 's/.*:[[:space:]]*"//; s/"[[:space:]]*$//')"
    echo "manifest $json: library_path ${lib:-?}"
    [[ -n "$lib" ]] || return 0
    if [[ "$lib" == /* ]]; then
        path="$lib"
    elif [[ "$lib" == */* ]]; then
        path="$(dirname "$json")/$lib"
    else
        local d IFS=:
        for d in $LD_LIBRARY_PATH; do
            [[ -e "$d/$lib" ]] && path="$d/$lib" && break
        done
        [[ -n "$path" ]] || path="$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l { print $NF; exit }')"
    fi
    if [[ -z "$path" || ! -e "$path" ]]; then
        echo "  NOT FOUND: $lib (not in LD_LIBRARY_PATH nor the linker cache)"
        return 0
    fi
    echo "  found: $path"
    if command -v ldd >/dev/null; then
        local missing
        missing="$(ldd "$path" 2>&1 | grep 'not found')"
        if [[ -n "$missing" ]]; then echo "  MISSING DEPENDENCIES:" && echo "$missing"; else echo "  its dependencies resolve"; fi
    fi
}

# Loader libraries, the Vulkan and EGL driver manifests, the driver: LD_LIBRARY_PATH,
# VK_DRIVER_FILES and __EGL_VENDOR_LIBRARY_FILENAMES exported where needed.
setup_environment() {
    local lib="$PACK/lib/usr/lib/x86_64-linux-gnu:$PACK/lib/lib/x86_64-linux-gnu" d
    for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
        [[ -d "$d" ]] && lib+=":$d"
    done
    export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export GAN_BIAS_ROOT="$PACK"
    if [[ -z "${XDG_RUNTIME_DIR:-}" || ! -d "${XDG_RUNTIME_DIR:-}" ]]; then
        XDG_RUNTIME_DIR="$(mktemp -d)" && chmod 700 "$XDG_RUNTIME_DIR" && export XDG_RUNTIME_DIR
    fi
    {
        echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
        echo "GAN_BIAS_ROOT=$GAN_BIAS_ROOT"
        local needed have
        needed="$(sed -n 's/^glibc needed: //p' "$PACK/MANIFEST" 2>/dev/null)"
        have="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')"
        echo "glibc: this machine ${have:-unknown}, the binaries need ${needed:-unknown}"
        if [[ -n "$needed" && -n "$have" && "$(printf '%s\n%s\n' "$needed" "$have" | sort -V | head -n 1)" != "$needed" ]]; then
            echo "WARNING: this machine's glibc $have is older than the $needed the binaries need; they will not start"
        fi
        local loader
        loader="$(ls "$PACK"/lib/usr/lib/x86_64-linux-gnu/libvulkan.so.1 2>/dev/null)"
        [[ -n "$loader" ]] || loader="none packed; from the system: $(ldconfig -p 2>/dev/null | grep -m1 -o '/.*libvulkan.so.1')"
        echo "Vulkan loader: $loader"

        local icds=() nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
        if [[ -n "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]]; then
            echo "driver manifests given: VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
            IFS=: read -r -a icds <<<"${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-}}"
        else
            mapfile -t icds < <(default_icds)
            echo "driver manifests the loader finds by default: ${icds[*]:-none}"
            if ! grep -qil nvidia "${icds[@]}" /dev/null 2>/dev/null; then
                if [[ -f "$nvidia_icd" ]]; then
                    echo "no NVIDIA manifest among them: VK_DRIVER_FILES=$nvidia_icd"
                    export VK_DRIVER_FILES="$nvidia_icd" VK_ICD_FILENAMES="$nvidia_icd"
                    icds=("$nvidia_icd")
                else
                    echo "no NVIDIA Vulkan driver manifest found (by default, nor at $nvidia_icd)"
                fi
            fi
        fi
        for d in "${icds[@]}"; do
            [[ -f "$d" ]] && check_manifest "$d"
        done

        local egl=() nvidia_egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
        if [[ -n "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ]]; then
            echo "EGL vendor files given: $__EGL_VENDOR_LIBRARY_FILENAMES"
        else
            mapfile -t egl < <(ls /usr/share/glvnd/egl_vendor.d/*.json /etc/glvnd/egl_vendor.d/*.json 2>/dev/null)
            echo "EGL vendor files found by default: ${egl[*]:-none}"
            if ! grep -qil nvidia "${egl[@]}" /dev/null 2>/dev/null && [[ -f "$nvidia_egl" ]]; then
                echo "no NVIDIA one among them: __EGL_VENDOR_LIBRARY_FILENAMES=$nvidia_egl"
                export __EGL_VENDOR_LIBRARY_FILENAMES="$nvidia_egl"
            fi
        fi
        echo "NVIDIA device nodes: $(ls /dev/nvidia* 2>/dev/null | paste -sd' ' || true)"
    } >"$OUT/environment.txt" 2>&1 # a group, not a subshell: its exports stay
    cat "$OUT/environment.txt" >&2
}

run() {
    local real="" peak="" python=python3 budget=450 quick=0 allow_cpu=0
    OUT=gpu-results
    while (($#)); do
        case "$1" in
            --out) OUT="${2:?--out needs a folder}"; shift 2 ;;
            --real) real="${2:?--real needs a folder}"; shift 2 ;;
            --peak-gflops) peak="${2:?--peak-gflops needs a number}"; shift 2 ;;
            --python) python="${2:?--python needs a command}"; shift 2 ;;
            --budget) budget="${2:?--budget needs seconds}"; shift 2 ;;
            --quick) quick=1; shift ;;
            --allow-cpu-adapter) allow_cpu=1; shift ;;
            -h | --help) usage ;;
            *) die "run: unknown argument $1" ;;
        esac
    done
    PACK="$here"
    [[ -x "$PACK/bin/gan-bias" && -x "$PACK/bin/integration" ]] ||
        die "run goes in the packed folder: $PACK/bin/gan-bias is missing (make it with tools/gpu_check.sh pack)"
    [[ -z "$peak" || "$peak" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--peak-gflops takes a number of GFLOP/s"
    [[ "$budget" =~ ^[0-9]+$ ]] || die "--budget takes whole seconds"
    mkdir -p "$OUT/logs" && OUT="$(cd "$OUT" && pwd)" || die "cannot create $OUT"
    rm -f "$OUT"/steps.tsv "$OUT"/logs/*.log
    printf 'step\tstatus\tseconds\n' >"$OUT/steps.tsv"
    DEADLINE=$((SECONDS + budget))
    run_steps "$real" "$peak" "$python" "$quick" "$allow_cpu" 2>&1 | tee "$OUT/run.log"
    exit "${PIPESTATUS[0]}"
}

run_steps() {
    local real="$1" peak="$2" python="$3" quick="$4" allow_cpu="$5"
    local bin="$PACK/bin/gan-bias" images=256 steps=30 warmup=2 repeats=5 probes=3
    if ((quick)); then
        images=2 steps=2 warmup=0 repeats=1 probes=1
    fi
    local mode="GPU check"
    ((allow_cpu)) && mode="DRY RUN (--allow-cpu-adapter: a software adapter is accepted; no GPU result)"
    say "$mode; pack: $PACK; results: $OUT; budget ${budget:-450} s"
    setup_environment
    if command -v nvidia-smi >/dev/null; then
        step nvidia-smi 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    else
        say "no nvidia-smi on this machine"
    fi

    # The adapter: a Vulkan one that is not a CPU, unless this is a dry run.
    step info 60 "$bin" info
    local vulkan gpu_line adapter
    vulkan="$(grep -E '^.+ \(Vulkan, ' "$OUT/logs/info.log")"
    gpu_line="$(echo "$vulkan" | grep -Ev '\(Vulkan, Cpu, ' | head -n 1)"
    if [[ -z "$gpu_line" ]]; then
        if ((allow_cpu)) && [[ -n "$vulkan" ]]; then
            gpu_line="$(echo "$vulkan" | head -n 1)"
            say "DRY RUN: no GPU adapter, taking the software one: $gpu_line"
        else
            {
                echo
                echo "=================================================================="
                echo "gpu_check: FAILED: gan-bias info lists no Vulkan adapter that is a GPU."
                echo "  info said:"
                sed 's/^/    /' "$OUT/logs/info.log"
                echo "  the loader and driver checks are in $OUT/environment.txt; where the loader looked:"
                echo "    LD_LIBRARY_PATH=$LD_LIBRARY_PATH VK_LOADER_DEBUG=all $bin info"
                echo "=================================================================="
            } >&2
            printf '%s\t%s\t0\n' "gpu adapter" "FAILED: none listed" >>"$OUT/steps.tsv"
            summary "$python" "$mode" "" "" ""
            return 2
        fi
    fi
    adapter="${gpu_line%% (Vulkan, *}"
    say "adapter: $gpu_line"

    # The fp32 peak: given, else by the GPU's name (nvidia-smi's, else the adapter's).
    local gpu_name peak_source=""
    gpu_name="$(sed -n '2p' "$OUT/logs/nvidia-smi.log" 2>/dev/null | cut -d, -f1)"
    gpu_name="${gpu_name:-$adapter}"
    if [[ -n "$peak" ]]; then
        peak_source="given with --peak-gflops"
    elif peak="$(fp32_peak_gflops "$gpu_name")"; then
        peak_source="the vendor's fp32 figure for $gpu_name (table in gpu_check.sh)"
    else
        peak=""
        say "no fp32 peak known for '$gpu_name': pass --peak-gflops N for the percentages"
    fi
    local peak_args=()
    [[ -n "$peak" ]] && peak_args=(--peak-gflops "$peak")

    # The shader tests, on the best-ranked Vulkan adapter (a GPU before a CPU); the op tests'
    # default adapters are Vulkan and GL, and a GPU machine need not have a GL driver.
    step shader-tests 240 env GAN_BIAS_TEST_ADAPTERS="${GAN_BIAS_TEST_ADAPTERS:-vulkan}" "$PACK/bin/integration" ops:: shaders:: --nocapture

    # Bench and probe on each pair of weights.
    local pairs=(bundled) gen="" clf=""
    if [[ -z "$real" ]]; then
        for d in "$PACK/real" "${GAN_BIAS_SHARED:-}" "$PACK/shared/fixtures" "$PACK/../shared/fixtures" "$PACK/../../shared/fixtures"; do
            [[ -n "$d" ]] && first_of "$d" "${GEN_NAMES[@]}" >/dev/null && first_of "$d" "${CLF_NAMES[@]}" >/dev/null && real="$d" && break
        done
    fi
    if [[ -n "$real" ]]; then
        gen="$(first_of "$real" "${GEN_NAMES[@]}")" && clf="$(first_of "$real" "${CLF_NAMES[@]}")" ||
            die "--real $real: needs one of ${GEN_NAMES[*]} and one of ${CLF_NAMES[*]}"
        pairs+=(real)
        say "real checkpoints: $gen, $clf"
    else
        say "no real checkpoints found (--real DIR): the bundled weights only"
    fi
    local bundled_gen="$PACK/weights/demo_generator.safetensors" bundled_clf="$PACK/weights/demo_classifier.safetensors"

    # PyTorch: CUDA where torch sees a GPU; in a dry run, its CPU, at the same small size.
    local torch_device=""
    if step torch-check 90 "$python" -c 'import torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'; then
        if grep -q ' True ' "$OUT/logs/torch-check.log"; then
            torch_device=cuda
        elif ((allow_cpu)); then
            torch_device=cpu
            say "DRY RUN: torch sees no GPU; PyTorch runs on the CPU"
        else
            say "torch sees no GPU: no PyTorch CUDA figures"
        fi
    else
        say "no torch for $python: no PyTorch figures"
    fi

    local set model_args py_args i
    for set in "${pairs[@]}"; do
        if [[ "$set" == real ]]; then
            model_args=(--generator "$gen" --classifier "$clf")
            py_args=(--generator "$gen" --classifier "$clf")
        else
            model_args=()
            py_args=(--generator "$bundled_gen" --classifier "$bundled_clf")
        fi
        step "bench-$set" 150 "$bin" bench --backend vulkan --images "$images" --warmup "$warmup" --repeats "$repeats" \
            "${model_args[@]}" "${peak_args[@]}" --json "$OUT/bench-$set.json" --csv "$OUT/bench-$set.csv"
        for ((i = 1; i <= probes; i++)); do
            step "probe-$set-$i" 90 "$bin" -q probe --backend vulkan --feature Male --images "$images" --steps "$steps" \
                --bootstrap 0 "${model_args[@]}" --json "$OUT/probe-$set-$i.json"
        done
        if [[ -n "$torch_device" ]]; then
            step "pytorch-$set" 180 "$python" "$PACK/tools/bench_pytorch.py" --device "$torch_device" --images "$images" \
                --steps "$steps" --warmup "$warmup" --repeats "$repeats" --probe-repeats "$probes" "${py_args[@]}" \
                --json "$OUT/pytorch-$set.json"
        fi
        local files=()
        for f in "$OUT/bench-$set.json" "$OUT/pytorch-$set.json"; do
            [[ -s "$f" ]] && files+=("$f")
        done
        if ((${#files[@]})); then
            step "compare-$set" 30 "$bin" bench compare "${files[@]}" --csv "$OUT/compare-$set.csv" --json "$OUT/compare-$set.json" &&
                cp "$OUT/logs/compare-$set.log" "$OUT/compare-$set.txt"
        fi
    done

    summary "$python" "$mode" "$gpu_name" "$peak" "$peak_source"
    if grep -qv -e $'\tok\t' -e $'^step\t' "$OUT/steps.tsv"; then
        say "some steps did not pass (steps.tsv); results in $OUT"
        return 1
    fi
    say "done; results in $OUT"
}

# summary PYTHON MODE GPU PEAK SOURCE: summary.md from what the steps wrote.
summary() {
    local python="$1" mode="$2" gpu="$3" peak="$4" source="$5"
    if ! "$python" "$PACK/tools/gpu_summary.py" --out "$OUT" --mode "$mode" --gpu "$gpu" --peak-gflops "$peak" \
        --peak-source "$source" >"$OUT/logs/summary.log" 2>&1; then
        say "the summary failed (logs/summary.log); steps.tsv holds the steps"
        {
            echo "# gan-bias GPU check: $mode"
            echo
            echo "The summary could not be made (logs/summary.log). Steps:"
            echo
            sed 's/^/    /' "$OUT/steps.tsv"
        } >"$OUT/summary.md"
    fi
    cat "$OUT/summary.md" >&2
}

case "${1:-}" in
    pack) shift && pack "$@" ;;
    run) shift && run "$@" ;;
    *) usage ;;
esac
