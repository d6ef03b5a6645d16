#!/usr/bin/env bash
# Install the independent tools the test suite talks to. Idempotent; needs root (CI and
# the project's machines run as root) or does nothing but report what is missing.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v xmllint >/dev/null || need+=(libxml2-utils)
command -v xmlsec1 >/dev/null || need+=(xmlsec1)
# The dashboard's browser test (e2e dashboard::): headless Chromium over WebDriver.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# Build dependency: the openssl crate (SDK organisation certificates) links libssl.
command -v pkg-config >/dev/null || need+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || need+=(libssl-dev)
# zeep: an independent Python SOAP client, the consumer's view of aggregated queries.
if ! python3 -c "import zeep" 2>/dev/null; then
  echo "installing: zeep (PyPI)"
  python3 -m pip install -q --disable-pip-version-check "zeep==4.3.*" \
    || echo "zeep could not be installed: the zeep interop test will skip" >&2
fi
# prometheus_client: the Prometheus project's own parser of the text exposition format
# (the /metrics test parses the gateway's output with it).
if ! python3 -c "import prometheus_client" 2>/dev/null; then
  echo "installing: prometheus-client (PyPI)"
  python3 -m pip install -q --disable-pip-version-check "prometheus-client==0.21.*" \
    || echo "prometheus-client could not be installed: the /metrics parser check will skip (and fail under CI=true)" >&2
fi
if [ ${#need[@]} -eq 0 ]; then
  echo "test tools present: openssl curl xmllint xmlsec1 chromium chromedriver zeep pkg-config libssl-dev prometheus-client"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing test tools: ${need[*]} (install them with apt-get as root)" >&2
  exit 0
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
