#!/usr/bin/env bash
# Regenerates Sources/ShrinkExport/ONNX/onnx.pb.swift from the onnx.proto that the
# pip package `onnx` 1.23.2 ships (IR version 14 file; the exporter writes IR 10 / opset 21).
# Needs protoc (Debian: apt-get install -y protobuf-compiler) and protoc-gen-swift built
# from apple/swift-protobuf 1.39.0 (e.g. a scratch package depending on it:
# `swift build -c release --product protoc-gen-swift`). Neither is needed to build Shrink.
#   PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift tools/gen_onnx_proto.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-tools"
proto_dir="$("$venv/bin/python" -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')"
version="$("$venv/bin/python" -c 'import onnx; print(onnx.__version__)')"
if [ "$version" != "1.23.2" ]; then
  echo "warning: onnx $version in $venv, the committed output came from 1.23.2" >&2
fi
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}"
if [ -z "$plugin" ] || [ ! -x "$plugin" ]; then
  echo "protoc-gen-swift not found: set PROTOC_GEN_SWIFT to its path" >&2
  exit 1
fi
out="$root/Sources/ShrinkExport/ONNX"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
protoc --plugin=protoc-gen-swift="$plugin" --proto_path="$proto_dir" \
  --swift_opt=Visibility=Public --swift_opt=FileNaming=DropPath \
  --swift_out="$tmp" "$proto_dir/onnx.proto"
mv "$tmp/onnx.pb.swift" "$out/onnx.pb.swift"
echo "wrote $out/onnx.pb.swift from $proto_dir/onnx.proto (onnx $version)"
