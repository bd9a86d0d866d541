#!/usr/bin/env bash
# The project's test command (README: "Run the tests"). On a fresh Debian machine it first
# installs what the tests need: Mesa's software Vulkan driver (lavapipe), a real wgpu
# adapter on machines without a GPU, and headless Chromium for the HTML reports. The shader tests fail, never skip, when no adapter exists.
set -euo pipefail
cd "$(dirname "$0")/.."

have_vulkan_driver() {
    # any one driver manifest will do (ls fails if either folder is missing or empty)
    compgen -G "/usr/share/vulkan/icd.d/*.json" >/dev/null || compgen -G "/etc/vulkan/icd.d/*.json" >/dev/null
}

if ! have_vulkan_driver; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing Mesa's software Vulkan driver (mesa-vulkan-drivers)..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq mesa-vulkan-drivers >/dev/null
    else
        echo "no Vulkan driver found: install one (Debian/Ubuntu: sudo apt-get install mesa-vulkan-drivers)" >&2
        exit 1
    fi
fi

# The HTML reports' tests load them in a real browser: headless Chromium.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && [ -z "${GAN_BIAS_CHROMIUM:-}" ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing headless Chromium (chromium) for the HTML report tests..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq chromium >/dev/null
    else
        echo "no Chromium found: install it (Debian/Ubuntu: sudo apt-get install chromium) or set GAN_BIAS_CHROMIUM" >&2
        exit 1
    fi
fi

# Mesa's window-system layer complains when this is unset; compute needs no display.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

# Release mode: the CPU reference backend is the oracle of the shader tests and is slow unoptimised.
cargo test --release "$@"
