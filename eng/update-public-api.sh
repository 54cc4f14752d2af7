#!/usr/bin/env bash
# Adds every public symbol the PublicApiAnalyzers report as undeclared (RS0016) to the project's
# PublicAPI.Unshipped.txt, and removes entries reported as no longer existing (RS0017).
# Usage: eng/update-public-api.sh src/LambdaStreamingHosting [extra dotnet build args]
set -euo pipefail
project_dir=${1:?project folder}
shift || true
unshipped="$project_dir/PublicAPI.Unshipped.txt"
log=$(mktemp)
dotnet build "$project_dir" -p:TreatWarningsAsErrors=false "$@" >"$log" 2>&1 || true
grep -o "RS0016: Symbol '[^']*'" "$log" | sed "s/^RS0016: Symbol '//; s/'\$//" | sort -u >>"$unshipped" || true
grep -o "RS0017: Symbol '[^']*'" "$log" | sed "s/^RS0017: Symbol '//; s/'\$//" | sort -u | while IFS= read -r gone; do
  grep -vxF -- "$gone" "$unshipped" >"$unshipped.tmp" || true
  mv "$unshipped.tmp" "$unshipped"
done
{ echo '#nullable enable'; grep -v '^#nullable enable$' "$unshipped" | sort -u; } >"$unshipped.tmp"
mv "$unshipped.tmp" "$unshipped"
rm -f "$log"
echo "updated $unshipped"
