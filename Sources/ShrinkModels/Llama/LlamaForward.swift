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
        let c = config, T = tokens.count, H = c.hiddenSize, V = c.vocabularySize, I = c.intermediateSize
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
        let d = c.headDim, qDim = c.qDim, kvDim = c.kvDim, width = qDim + 2 * kvDim
        let eps = Float(c.rmsNormEps), scale = 1 / Float(Double(d).squareRoot())
        let group = c.heads / c.kvHeads

        let x = UnsafeMutablePointer<Float>.allocate(capacity: T * H)
        let xn = UnsafeMutablePointer<Float>.allocate(capacity: T * H)
        let qkv = UnsafeMutablePointer<Float>.allocate(capacity: T * width)
        let attn = UnsafeMutablePointer<Float>.allocate(capacity: T * qDim)
        let gu = UnsafeMutablePointer<Float>.allocate(capacity: T * 2 * I)
        let act = UnsafeMutablePointer<Float>.allocate(capacity: T * I)
        defer { for p in [x, xn, qkv, attn, gu, act] { p.deallocate() } }

        for (t, token) in tokens.enumerated() { embed(Int(token), into: x + t * H) }
        hiddenStates?(0, UnsafeBufferPointer(start: x, count: T * H))

        func norm(_ w: [Float]) {
            w.withUnsafeBufferPointer { wb in
                let p = UnsafeSendable((x, xn, wb.baseAddress!))
                Parallel.forEachChunk(count: T, minChunk: max(1, 16_384 / H)) { r in
                    sk_rms_norm_weighted_rows(p.pointer.0 + r.lowerBound * H, r.count, H, eps, p.pointer.2, p.pointer.1 + r.lowerBound * H)
                }
            }
        }
        func observe(_ names: [String], _ input: UnsafeMutablePointer<Float>, columns: Int) {
            guard let linearInputs else { return }
            for n in names { linearInputs.observe(layer: n, inputs: input, rows: T, columns: columns) }
        }

        for (l, layer) in layers.enumerated() {
            let n = layer.names
            // Attention: x += o_proj(attention(rope(q), rope(k), v)) over the cache.
            norm(layer.inputNorm)
            observe([n.q, n.k, n.v], xn, columns: H)
            Self.linear(layer.qkv, xn, rows: T, into: qkv)
            let keys = cache.keys(layer: l), values = cache.values(layer: l)
            cache.cosTable.withUnsafeBufferPointer { cb in
                cache.sinTable.withUnsafeBufferPointer { sb in
                    let p = UnsafeSendable((qkv, cb.baseAddress!, sb.baseAddress!, keys, values))
                    Parallel.forEachChunk(count: T, minChunk: max(1, 8192 / width)) { r in
                        let (q, cosT, sinT, kc, vc) = p.pointer
                        let row = q + r.lowerBound * width
                        sk_rope_heads(row, r.count, width, c.heads, d, start + r.lowerBound, cosT, sinT)
                        sk_rope_heads(row + qDim, r.count, width, c.kvHeads, d, start + r.lowerBound, cosT, sinT)
                        for t in r {
                            (kc + (start + t) * kvDim).update(from: q + t * width + qDim, count: kvDim)
                            (vc + (start + t) * kvDim).update(from: q + t * width + qDim + kvDim, count: kvDim)
                        }
                    }
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
            Self.linear(layer.o, attn, rows: T, into: x, accumulate: true)

            // MLP: x += down(silu(gate(x̂)) · up(x̂)).
            norm(layer.postNorm)
            observe([n.gate, n.up], xn, columns: H)
            Self.linear(layer.gateUp, xn, rows: T, into: gu)
            let s = UnsafeSendable((gu, act))
            Parallel.forEachChunk(count: T, minChunk: max(1, 8192 / I)) { r in
                sk_swiglu_rows(s.pointer.0 + r.lowerBound * 2 * I, r.count, I, s.pointer.1 + r.lowerBound * I)
            }
            observe([n.down], act, columns: I)
            Self.linear(layer.down, act, rows: T, into: x, accumulate: true)
            if l + 1 < c.layers { hiddenStates?(l + 1, UnsafeBufferPointer(start: x, count: T * H)) }
        }
        norm(finalNorm)
        hiddenStates?(c.layers, UnsafeBufferPointer(start: xn, count: T * H))
        let scored = T - first
        if scored > 0 { linearInputs?.observe(layer: head.name, inputs: xn + first * H, rows: scored, columns: H) }
        let logits = [Float](unsafeUninitializedCapacity: scored * V) { buf, count in
            if scored > 0 { Self.linear(head, xn + first * H, rows: scored, into: buf.baseAddress!) }
            count = scored * V
        }
        cache.count = start + T
        return logits
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
