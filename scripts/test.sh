#!/usr/bin/env bash
# Installs everything the tests need (the package, test tools, headless Chromium) and runs them.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for benchmarks and scale tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  fi
fi

if ! command -v tesseract >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's tesseract-ocr for the OCR tests..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null) \
      || echo "warning: could not install tesseract-ocr; OCR tests will be skipped" >&2
  fi
fi

python3 -m pip install -q --disable-pip-version-check torch==2.13.0
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
exec python3 -m pytest -q "$@"
