#!/usr/bin/env bash
# Publishes StreamingApi and deploys it with AWS SAM (template.yaml) behind one front door.
# The same --invoke-mode value goes to the front door and to the app, so they cannot disagree.
#
#   deploy/deploy.sh [--build Managed|NativeAot] [--invoke-mode RESPONSE_STREAM|BUFFERED]
#                    [--front-door PublicUrl|IamUrl|CloudFront|RestApi] [--snap-start]
#                    [--timeout SECONDS] [--origin-timeout SECONDS] [--parameter NAME=VALUE]...
#                    [--stack-name NAME] [--publish-only] [--print-parameters] [-- extra sam deploy arguments]
#
# --timeout is the function's timeout (default 60). Behind CloudFront the origin's read and keep-alive timeouts follow
# it, capped at 60 s (CloudFront's default quota); --origin-timeout up to 180 after a quota increase.
# --parameter passes any other template parameter (DomainName, CertificateArn, WebAclArn, SubnetIds,
# SecurityGroupIds, DatabaseSecretArn, DatabaseInstanceIdentifier, ...). --print-parameters prints the parameters
# it would deploy with, one NAME=VALUE a line, and stops.
#
# NativeAot compiles on this machine for linux-x64: run it on Amazon Linux 2023 (or an older glibc than AL2023's)
# so the binary loads on provided.al2023. Needs: .NET 10 SDK, clang or gcc, zlib; and the AWS SAM CLI to deploy.
set -euo pipefail

build=Managed
invoke_mode=RESPONSE_STREAM
front_door=PublicUrl
snap_start=Disabled
timeout=60
origin_timeout=
extra_parameters=()
stack_name=streaming-api
publish_only=false
print_parameters=false
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=${2:?}; shift 2 ;;
    --invoke-mode) invoke_mode=${2:?}; shift 2 ;;
    --front-door) front_door=${2:?}; shift 2 ;;
    --snap-start) snap_start=Enabled; shift ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    --origin-timeout) origin_timeout=${2:?}; shift 2 ;;
    --parameter) extra_parameters+=("${2:?}"); shift 2 ;;
    --stack-name) stack_name=${2:?}; shift 2 ;;
    --publish-only) publish_only=true; shift ;;
    --print-parameters) print_parameters=true; shift ;;
    --) shift; break ;;
    *) echo "unknown argument: $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

case "$build" in Managed|NativeAot) ;; *) echo "--build must be Managed or NativeAot, not '$build'" >&2; exit 2 ;; esac
case "$invoke_mode" in RESPONSE_STREAM|BUFFERED) ;; *) echo "--invoke-mode must be RESPONSE_STREAM or BUFFERED, not '$invoke_mode'" >&2; exit 2 ;; esac
case "$front_door" in PublicUrl|IamUrl|CloudFront|RestApi) ;; *) echo "--front-door must be PublicUrl, IamUrl, CloudFront or RestApi, not '$front_door'" >&2; exit 2 ;; esac
if [ "$snap_start" = Enabled ] && [ "$build" != Managed ]; then
  echo "--snap-start needs --build Managed: SnapStart works on the managed dotnet10 runtime only" >&2; exit 2
fi
if ! [[ "$timeout" =~ ^[0-9]+$ ]] || [ "$timeout" -lt 1 ] || [ "$timeout" -gt 900 ]; then
  echo "--timeout must be 1 to 900 seconds, not '$timeout'" >&2; exit 2
fi
# CloudFront waits this long for each part of a response (and keeps idle origin connections this long): the function
# timeout, but at most 60 s unless raised with a quota increase (up to 180 s).
if [ -z "$origin_timeout" ]; then
  origin_timeout=$(( timeout < 60 ? timeout : 60 ))
elif ! [[ "$origin_timeout" =~ ^[0-9]+$ ]] || [ "$origin_timeout" -lt 1 ] || [ "$origin_timeout" -gt 180 ]; then
  echo "--origin-timeout must be 1 to 180 seconds (over 60 needs a CloudFront quota increase), not '$origin_timeout'" >&2; exit 2
fi

parameters=("Build=$build" "InvokeMode=$invoke_mode" "FrontDoor=$front_door" "SnapStart=$snap_start"
  "Timeout=$timeout" "OriginTimeout=$origin_timeout" "${extra_parameters[@]}")
if [ "$print_parameters" = true ]; then
  printf '%s\n' "${parameters[@]}"
  exit 0
fi

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
  --parameter-overrides "${parameters[@]}" \
  "$@"
