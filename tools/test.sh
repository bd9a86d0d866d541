#!/usr/bin/env bash
# The project's test command (README: "Run the tests"). On a fresh Debian machine it first
# installs what the tests need: Mesa's software Vulkan driver (lavapipe) and its GL driver
# through EGL (llvmpipe), real wgpu adapters on machines without a GPU; the SPIR-V and GLSL
# validators of the translation test (spirv-val, glslangValidator); and headless Chromium for
# the HTML reports. The tests fail, never skip, when an adapter, a validator or the browser is
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

have_vulkan_driver() {
    # any one driver manifest will do (ls fails if either folder is missing or empty)
    compgen -G "/usr/share/vulkan/icd.d/*.json" >/dev/null || compgen -G "/etc/vulkan/icd.d/*.json" >/dev/null
}

have_egl_driver() {
    # glvnd's EGL vendor manifest of Mesa (libegl-mesa0), and the loader libEGL (libegl1)
    compgen -G "/usr/share/glvnd/egl_vendor.d/*mesa*.json" >/dev/null && ldconfig -p | grep -q "libEGL.so.1 "
}

missing=()
have_vulkan_driver || missing+=(mesa-vulkan-drivers)
have_egl_driver || missing+=(libegl1 libegl-mesa0 libgl1-mesa-dri)
command -v spirv-val >/dev/null 2>&1 || missing+=(spirv-tools)
command -v glslangValidator >/dev/null 2>&1 || missing+=(glslang-tools)
if [ -z "${GAN_BIAS_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    missing+=(chromium)
fi

if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing ${missing[*]}..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "missing: ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

# Mesa's window-system layer complains when this is unset; compute needs no display.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

# Release mode: the CPU reference backend is the oracle of the shader tests and is slow unoptimised.
cargo test --release "$@"
