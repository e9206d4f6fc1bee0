#!/usr/bin/env bash
# The VAE compression study (issue 15): every trained VAE under Fixtures/models/vae_* (and any under $MODELS) at
# each bits × method × granularity of the grid, compared with its FP32 original on Fashion-MNIST test images by
# `shrink compare --data` (paired over images: Δ −ELBO, Δ PSNR, Δ SSIM, latent cosine), then the tables and the
# verdicts on the lessons-learned report's claims written to VAE_STUDY.md by tools/vae_study.py.
# Results are cached by model, grid cell and shrink binary under $CACHE, so a rerun only computes what is missing.
# Usage: tools/vae_study.sh   (SHRINK, CACHE=.build-vae-study, IMAGES=2000 test images, CALIB=256 train images,
#                              BITS="8 6 4 3 2", METHODS="rtn mse gptq", GRANULARITIES="tensor channel", NICE)
set -euo pipefail
cd "$(dirname "$0")/.."
shrink="${SHRINK:-.build/release/shrink}" cache="${CACHE:-.build-vae-study}" images="${IMAGES:-2000}" calib="${CALIB:-256}"
bits="${BITS:-8 6 4 3 2}" methods="${METHODS:-rtn mse gptq}" granularities="${GRANULARITIES:-tensor channel}"
nice_cmd="${NICE:-nice -n 10}"
test_images=data/fashion-mnist/t10k-images-idx3-ubyte train_images=data/fashion-mnist/train-images-idx3-ubyte
[[ -x "$shrink" ]] || { echo "vae_study: $shrink is missing; swift build -c release (or set SHRINK)" >&2; exit 1; }
[[ -f "$test_images" && -f "$train_images" ]] || { echo "vae_study: Fashion-MNIST is missing; run tools/fetch_real.sh" >&2; exit 1; }
py="$(tools/setup_venv.sh | tail -1)"
mkdir -p "$cache"
key() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }
shrink_h=$(sha256sum "$shrink" | cut -c1-16)
manifest="$cache/manifest.tsv.$$"
: > "$manifest"
for model in ${MODELS:-Fixtures/models/vae_*}; do
    [[ -f "$model/config.json" ]] || continue
    name=$(basename "$model") model_h=$(cat "$model"/config.json "$model"/model.safetensors | sha256sum | cut -c1-16)
    for b in $bits; do
        for m in $methods; do
            for g in $granularities; do
                args=(--bits "$b")
                case "$g" in tensor) args+=(--granularity tensor) ;; channel) ;; g*) args+=(--group "${g#g}") ;; esac
                [[ "$m" != rtn ]] && args+=(--method "$m")
                [[ "$m" == gptq ]] && args+=(--calib "$train_images" --calib-count "$calib")
                k=$(key "${args[*]}" "$model_h" "$shrink_h" "$images")
                out="$cache/$name-int$b-$g-$m-$k.json"
                if [[ ! -s "$out" && ! -e "$out.failed" ]]; then
                    echo "[$(date -u +%H:%M:%S)] $name int$b $g $m" >&2
                    work="$cache/work-$name"; rm -rf "$work"
                    if $nice_cmd "$shrink" quantize "$model" -o "$work" "${args[@]}" --quiet > "$out.log" 2>&1 \
                        && $nice_cmd "$shrink" compare "$model" "$work" --data "$test_images" --limit "$images" --json > "$out.tmp" 2>> "$out.log"; then
                        mv "$out.tmp" "$out"
                    else
                        tail -n 1 "$out.log" > "$out.failed"; echo "  failed: $(cat "$out.failed")" >&2
                    fi
                    rm -rf "$work" "$out.tmp"
                fi
                printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$b" "$m" "$g" "$out" >> "$manifest"
            done
        done
    done
done
mv "$manifest" "$cache/manifest.tsv"
"$py" tools/vae_study.py "$cache/manifest.tsv" --images "$images" --calib "$calib" > VAE_STUDY.md.tmp && mv VAE_STUDY.md.tmp VAE_STUDY.md
echo "wrote VAE_STUDY.md" >&2
