#!/usr/bin/env bash
# Installs Microsoft's Kusto parser (@kusto/language-service-next, MIT) for the optional oracle
# test into target/kusto-oracle (git-ignored). Run once, online; the test itself stays offline.
set -euo pipefail
cd "$(dirname "$0")/../.."
version="${KUSTO_LANGUAGE_SERVICE_VERSION:-12.4.1}"
dir=target/kusto-oracle
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"private":true}' > "$dir/package.json"
cd "$dir"
npm install --no-audit --no-fund --silent "@kusto/language-service-next@${version}"
echo "installed @kusto/language-service-next@${version} in $dir"
