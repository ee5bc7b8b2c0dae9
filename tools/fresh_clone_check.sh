#!/usr/bin/env bash
# `make test` as a new user's machine runs it: a fresh clone with no ../shared beside it, no dataset
# anywhere natv2 looks (NATV2_DATA an empty folder, HOME a new one, so no ~/.cache/natv2), and
# CIFAR-10 downloaded by `make test` itself.
#
# The download is simulated: this machine has no network, so the class-folder CIFAR-10 the project's
# machines hold (NATV2_TEST_DATA, default ../shared/data) is packed in the official archive layout
# (tools/cifar10_archive.py) and served over HTTP from a local folder by `python -m http.server` on
# 127.0.0.1; `make test` gets its address and checksum as CIFAR10_URL and CIFAR10_MD5. Everything
# else (the venv, pip's installs, the tests) is what a fresh clone does.
#
#     tools/fresh_clone_check.sh [WORK_DIR]      # WORK_DIR is kept for inspection (default: a temp folder)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
source_data="${NATV2_TEST_DATA:-$repo/../shared/data}/cifar10"
work="${1:-$(mktemp -d)}"
python="${PYTHON:-$repo/.venv/bin/python}"  # numpy and Pillow, to pack the archive
port="${PORT:-$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"

mkdir -p "$work"/{mirror,empty-data,home}
git clone -q "$repo" "$work/natv2"
echo "clone of $(git -C "$work/natv2" rev-parse --short HEAD) at $work/natv2 (no ../shared beside it)"
md5="$("$python" "$repo/tools/cifar10_archive.py" "$source_data" "$work/mirror/cifar-10-python.tar.gz")"
echo "mirror: $work/mirror/cifar-10-python.tar.gz, md5 $md5"

"$python" -m http.server --bind 127.0.0.1 "$port" --directory "$work/mirror" >"$work/http.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 1

cd "$work/natv2"
env -u NATV2_TEST_DATA -u NATV2_DATA -u NATV2_CACHE -u VIRTUAL_ENV HOME="$work/home" NATV2_DATA="$work/empty-data" \
  make test CIFAR10_URL="http://127.0.0.1:$port/cifar-10-python.tar.gz" CIFAR10_MD5="$md5"
echo "fresh-clone make test passed; downloaded: $(grep -c 'GET /cifar-10-python.tar.gz' "$work/http.log") time(s)"
