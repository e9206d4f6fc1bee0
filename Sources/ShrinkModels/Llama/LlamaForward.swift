import CShrinkKernels
import ShrinkTensor

extension LlamaModel {
    /// Runs `tokens` at positions `cache.count …`, appending their keys and values to the cache, and returns the
    /// logits [tokens.count, vocab] row-major (transformers' LlamaForCausalLM.forward with that cache).
    /// - Parameters:
    ///   - hiddenStates: receives (layer index 0 … L, [tokens.count, hidden]) in transformers'
    ///     `output_hidden_states` convention: the embeddings first, then each block's output, the last one
    ///     after the final norm. The buffer is valid only during the call.
    ///   - linearInputs: sees the input of every linear weight (HF names; q/k/v share one input, gate/up another).
    public func forward(_ tokens: [Int32], cache: KVCache, hiddenStates: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil,
                        linearInputs: LinearInputObserver? = nil) throws -> [Float] {
        try forward(tokens, cache: cache, hiddenStates: hiddenStates, linearInputs: linearInputs, logitsFrom: 0)
    }

    /// `forward`, with the output head applied only to rows `logitsFrom..<tokens.count` (the logits returned are
    /// [tokens.count − logitsFrom, vocab]; the head is a fifth of a 512-token chunk's work).
    public func forward(_ tokens: [Int32], cache: KVCache, hiddenStates: ((Int, UnsafeBufferPointer<Float>) -> Void)?,
                        linearInputs: LinearInputObserver?, logitsFrom first: Int) throws -> [Float] {
        let c = config, T = tokens.count, H = c.hiddenSize, V = c.vocabularySize
        guard T > 0 else { return [] }
        guard cache.layers == c.layers, cache.kvDim == c.kvDim else {
            throw ModelError.badRequest(flag: "cache", reason: "was made for a model with \(cache.layers) layers × \(cache.kvDim) KV floats; make it with this model's makeCache")
        }
        let start = cache.count
        guard start + T <= cache.capacity else {
            throw ModelError.badRequest(flag: "tokens", reason: "run \(T) positions after \(start) cached ones, past the cache capacity \(cache.capacity); make a larger cache or reset it")
        }
        if let w = c.slidingWindow, start + T > w {
            throw ModelError.badRequest(flag: "tokens", reason: "reach position \(start + T), past the sliding window \(w), which Shrink does not implement; run shorter chunks")
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= V }) {
            throw ModelError.badRequest(flag: "tokens", reason: "contain \(bad), outside the vocabulary 0..<\(V)")
        }
        guard first >= 0, first <= T else {
            throw ModelError.badRequest(flag: "logitsFrom", reason: "is \(first), outside 0...\(T) for \(T) tokens")
        }
        let buffers = LlamaBlockBuffers(config: c, tokens: T)
        for (t, token) in tokens.enumerated() { embed(Int(token), into: buffers.x + t * H) }
        hiddenStates?(0, UnsafeBufferPointer(start: buffers.x, count: T * H))
        let logits = run(buffers, tokens: T, fromBlock: 0, cache: cache, hiddenStates: hiddenStates, linearInputs: linearInputs, logitsFrom: first)
        cache.count = start + T
        return logits
    }

    /// Runs blocks `fromBlock`… over the `tokens` rows of `buffers.x` (the input of block `fromBlock`) at positions
    /// `cache.count…`, then the final norm and the head on rows `first…`; leaves the cache's count to the caller.
    func run(_ buffers: LlamaBlockBuffers, tokens T: Int, fromBlock: Int, cache: KVCache,
             hiddenStates: ((Int, UnsafeBufferPointer<Float>) -> Void)?, linearInputs: LinearInputObserver?, logitsFrom first: Int) -> [Float] {
        let c = config, H = c.hiddenSize, V = c.vocabularySize, start = cache.count
        let x = buffers.x, xn = buffers.xn
        cache.cosTable.withUnsafeBufferPointer { cb in
            cache.sinTable.withUnsafeBufferPointer { sb in
                for l in fromBlock..<c.layers {
                    Self.runBlock(layers[l], config: c, buffers: buffers, tokens: T, start: start, keys: cache.keys(layer: l),
                                  values: cache.values(layer: l), cos: cb.baseAddress!, sin: sb.baseAddress!, linearInputs: linearInputs)
                    if l + 1 < c.layers { hiddenStates?(l + 1, UnsafeBufferPointer(start: x, count: T * H)) }
                }
            }
        }
        Self.rmsNorm(x, rows: T, width: H, eps: Float(c.rmsNormEps), weight: finalNorm, into: xn)
        hiddenStates?(c.layers, UnsafeBufferPointer(start: xn, count: T * H))
        let scored = T - first
        if scored > 0 { linearInputs?.observe(layer: head.name, inputs: xn + first * H, rows: scored, columns: H) }
        return [Float](unsafeUninitializedCapacity: scored * V) { buf, count in
            if scored > 0 { Self.linear(head, xn + first * H, rows: scored, into: buf.baseAddress!) }
            count = scored * V
        }
    }

    /// x ← x + attention(x) + mlp(…) for one pre-norm block over `tokens` rows of `buffers.x` at positions
    /// `start…`, appending their keys and values to `keys`/`values` ([capacity, kvDim], positions before `start`
    /// already there); `cos`/`sin` are the RoPE tables from position 0.
    static func runBlock(_ layer: Layer, config c: LlamaConfig, buffers b: LlamaBlockBuffers, tokens T: Int, start: Int,
                         keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>,
                         cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, linearInputs: LinearInputObserver?) {
        let H = c.hiddenSize, I = c.intermediateSize, d = c.headDim, qDim = c.qDim, kvDim = c.kvDim, width = qDim + 2 * kvDim
        let eps = Float(c.rmsNormEps), scale = 1 / Float(Double(d).squareRoot())
        let group = c.heads / c.kvHeads
        let (x, xn, qkv, attn, gu, act) = (b.x, b.xn, b.qkv, b.attn, b.gu, b.act)
        func observe(_ names: [String], _ input: UnsafeMutablePointer<Float>, columns: Int) {
            guard let linearInputs else { return }
            for n in names { linearInputs.observe(layer: n, inputs: input, rows: T, columns: columns) }
        }
        let n = layer.names
        // Attention: x += o_proj(attention(rope(q), rope(k), v)) over the cache.
        rmsNorm(x, rows: T, width: H, eps: eps, weight: layer.inputNorm, into: xn)
        observe([n.q, n.k, n.v], xn, columns: H)
        linear(layer.qkv, xn, rows: T, into: qkv)
        let p0 = UnsafeSendable((qkv, cos, sin, keys, values))
        Parallel.forEachChunk(count: T, minChunk: max(1, 8192 / width)) { r in
            let (q, cosT, sinT, kc, vc) = p0.pointer
            let row = q + r.lowerBound * width
            sk_rope_heads(row, r.count, width, c.heads, d, start + r.lowerBound, cosT, sinT)
            sk_rope_heads(row + qDim, r.count, width, c.kvHeads, d, start + r.lowerBound, cosT, sinT)
            for t in r {
                (kc + (start + t) * kvDim).update(from: q + t * width + qDim, count: kvDim)
                (vc + (start + t) * kvDim).update(from: q + t * width + qDim + kvDim, count: kvDim)
            }
        }
        // Work items: (head, block of query rows), head-major; causal work per block grows with its position.
        // Blocks of 60 rows: whole 6-row GEMM tiles.
        let block = 60, blocks = (T + block - 1) / block
        let p = UnsafeSendable((qkv, keys, values, attn))
        Parallel.forEachChunk(count: c.heads * blocks, minChunk: 1) { r in
            let (q, kc, vc, out) = p.pointer
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: sk_causal_attention_scratch(min(block, T), start + T - min(block, T), d))
            defer { scratch.deallocate() }
            for item in r {
                let h = item / blocks, i0 = (item % blocks) * block, rows = min(block, T - i0), g = h / group
                sk_causal_attention_head(q + i0 * width + h * d, width, rows, start + i0, kc + g * d, vc + g * d, kvDim, d, scale,
                                         out + i0 * qDim + h * d, qDim, scratch)
            }
        }
        observe([n.o], attn, columns: qDim)
        linear(layer.o, attn, rows: T, into: x, accumulate: true)

        // MLP: x += down(silu(gate(x̂)) · up(x̂)).
        rmsNorm(x, rows: T, width: H, eps: eps, weight: layer.postNorm, into: xn)
        observe([n.gate, n.up], xn, columns: H)
        linear(layer.gateUp, xn, rows: T, into: gu)
        let s = UnsafeSendable((gu, act))
        Parallel.forEachChunk(count: T, minChunk: max(1, 8192 / I)) { r in
            sk_swiglu_rows(s.pointer.0 + r.lowerBound * 2 * I, r.count, I, s.pointer.1 + r.lowerBound * I)
        }
        observe([n.down], act, columns: I)
        linear(layer.down, act, rows: T, into: x, accumulate: true)
    }

    /// y = RMSNorm(x)·w for `rows` rows of `width`, on both cores.
    static func rmsNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, eps: Float, weight: [Float], into y: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { wb in
            let p = UnsafeSendable((x, y, wb.baseAddress!))
            Parallel.forEachChunk(count: rows, minChunk: max(1, 16_384 / width)) { r in
                sk_rms_norm_weighted_rows(p.pointer.0 + r.lowerBound * width, r.count, width, eps, p.pointer.2, p.pointer.1 + r.lowerBound * width)
            }
        }
    }

    /// y = x·Wᵀ + b on both cores: split over rows when there are enough of them, else over the weight's
    /// 16-column panels (one token decoding: every output column is independent).
    static func linear(_ l: PackedLinear, _ x: UnsafeMutablePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>,
                       accumulate: Bool = false) {
        if rows >= 12 || Parallel.workerCount == 1 {
            l.apply(x, rows: rows, into: y, accumulate: accumulate)
            return
        }
        let panel = 16, panels = (l.outFeatures + panel - 1) / panel, k = l.inFeatures, n = l.outFeatures
        l.withPacked { packed in
            let p = UnsafeSendable((x, y, packed))
            let run: @Sendable (Range<Int>, UnsafePointer<Float>?) -> Void = { r, bias in
                let (xs, ys, w) = p.pointer
                let c0 = r.lowerBound * panel, c1 = min(n, r.upperBound * panel)
                sk_gemm(xs, rows, k, k, w + c0 * k, c1 - c0, bias.map { $0 + c0 }, ys + c0, n, accumulate ? 1 : 0)
            }
            if let b = l.bias {
                b.withUnsafeBufferPointer { bb in
                    let bp = UnsafeSendable(bb.baseAddress!)
                    Parallel.forEachChunk(count: panels, minChunk: max(1, 8192 / max(1, k))) { r in run(r, bp.pointer) }
                }
            } else {
                Parallel.forEachChunk(count: panels, minChunk: max(1, 8192 / max(1, k))) { r in run(r, nil) }
            }
        }
    }
}

/// Working buffers of a block over `tokens` rows: the residual stream, its norm, and each sub-layer's output.
final class LlamaBlockBuffers {
    let x, xn, qkv, attn, gu, act: UnsafeMutablePointer<Float>
    init(config c: LlamaConfig, tokens T: Int) {
        x = .allocate(capacity: T * c.hiddenSize)
        xn = .allocate(capacity: T * c.hiddenSize)
        qkv = .allocate(capacity: T * (c.qDim + 2 * c.kvDim))
        attn = .allocate(capacity: T * c.qDim)
        gu = .allocate(capacity: T * 2 * c.intermediateSize)
        act = .allocate(capacity: T * c.intermediateSize)
    }
    deinit { for p in [x, xn, qkv, attn, gu, act] { p.deallocate() } }
}
