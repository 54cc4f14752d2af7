#!/usr/bin/env bash
# Publishes StreamingApi and deploys it with AWS SAM behind a Function URL.
# The same --invoke-mode value goes to the Function URL and to the app (template.yaml), so they cannot disagree.
#
#   deploy/deploy.sh [--build Managed|NativeAot] [--invoke-mode RESPONSE_STREAM|BUFFERED]
#                    [--stack-name NAME] [--publish-only] [-- extra sam deploy arguments]
#
# NativeAot compiles on this machine for linux-x64: run it on Amazon Linux 2023 (or an older glibc than AL2023's)
# so the binary loads on provided.al2023. Needs: .NET 10 SDK, clang or gcc, zlib; and the AWS SAM CLI to deploy.
set -euo pipefail

build=Managed
invoke_mode=RESPONSE_STREAM
stack_name=streaming-api
publish_only=false
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=${2:?}; shift 2 ;;
    --invoke-mode) invoke_mode=${2:?}; shift 2 ;;
    --stack-name) stack_name=${2:?}; shift 2 ;;
    --publish-only) publish_only=true; shift ;;
    --) shift; break ;;
    *) echo "unknown argument: $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

case "$build" in Managed|NativeAot) ;; *) echo "--build must be Managed or NativeAot, not '$build'" >&2; exit 2 ;; esac
case "$invoke_mode" in RESPONSE_STREAM|BUFFERED) ;; *) echo "--invoke-mode must be RESPONSE_STREAM or BUFFERED, not '$invoke_mode'" >&2; exit 2 ;; esac

deploy_dir=$(cd "$(dirname "$0")" && pwd)
project_dir=$(dirname "$deploy_dir")
out="$deploy_dir/.build/function"
rm -rf "$out"

if [ "$build" = NativeAot ]; then
  # The executable is named bootstrap (StreamingApi.csproj), as provided.al2023 expects.
  dotnet publish "$project_dir" -c Release -r linux-x64 -p:PublishAot=true -o "$out"
  rm -f "$out"/*.dbg "$out"/*.pdb "$out"/*.xml
else
  # Framework-dependent: the dotnet10 managed runtime starts the executable assembly named by Handler (StreamingApi).
  # ReadyToRun for x86_64 (template.yaml's Architectures): the app and its libraries come precompiled, so the cold
  # start does not JIT-compile them.
  dotnet publish "$project_dir" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$out"
fi
echo "published $build build to $out"

if [ "$publish_only" = true ]; then
  exit 0
fi

sam deploy \
  --template-file "$deploy_dir/template.yaml" \
  --stack-name "$stack_name" \
  --capabilities CAPABILITY_IAM \
  --resolve-s3 \
  --parameter-overrides "Build=$build" "InvokeMode=$invoke_mode" \
  "$@"
