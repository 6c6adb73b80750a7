#!/usr/bin/env bash
# Installs what dualclip needs on Debian 12 (only the packages that are missing), selects
# OpenBLAS as the BLAS that libtorch calls, and prints which BLAS is active.
# Running it twice changes nothing the second time.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libgloo-dev
  libopenblas0-openmp libopenblas-openmp-dev
  nlohmann-json3-dev libgtest-dev
  libjpeg62-turbo-dev libpng-dev libgif-dev libwebp-dev libexif-dev
  libcairo2-dev libicu-dev
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi

# libtorch links against the generic libblas.so.3 / liblapack.so.3; Debian's alternatives
# decide which library that is. The reference BLAS is about 30 times slower here.
select_alternative() {
  local name=$1 wanted=$2
  local current
  current=$(update-alternatives --query "$name" 2>/dev/null | awk '/^Value:/ {print $2}')
  if [ -e "$wanted" ] && [ "$current" != "$wanted" ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO update-alternatives --set "$name" "$wanted" >/dev/null
    echo "setup: $name now points to $wanted"
  fi
}
select_alternative libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
select_alternative liblapack.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-openmp/liblapack.so.3

blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)
echo "setup: BLAS in use: $blas"
