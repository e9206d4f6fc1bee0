import CShrinkKernels
import Foundation
import ShrinkTensor

/// What one encoder pass over a batch of sentences produced. Sentences are packed one after another (no
/// padding): sentence i owns token rows `offsets[i]..<offsets[i+1]` of every per-token array.
public struct BertOutput: Sendable {
    public var sentences: Int
    public var width: Int
    /// [sentences + 1] starts of each sentence's token rows.
    public var offsets: [Int]
    /// [sentences, width]: mean of the last hidden state over the sentence's tokens, L2-normalised
    /// (sentence-transformers Pooling(mean) then Normalize).
    public var embeddings: [Float]
    /// [sentences, width]: `BertModel`'s pooler_output, tanh(W·h_[CLS] + b); nil when the checkpoint has no pooler.
    public var poolerOutput: [Float]?
    /// transformers' `output_hidden_states`: the embedding output, then every layer's output (L + 1 arrays,
    /// each [tokens, width]); nil unless asked for.
    public var hiddenStates: [[Float]]?

    public func embedding(_ i: Int) -> ArraySlice<Float> { embeddings[(i * width)..<((i + 1) * width)] }
    public func tokens(of i: Int) -> Range<Int> { offsets[i]..<offsets[i + 1] }
}

extension BertEncoder {
    /// Encodes a batch of tokenized sentences (each already `[CLS] … [SEP]` and at most
    /// `max_position_embeddings` ids), every token attending to every token of its own sentence only: the
    /// attention mask of a padded batch, without the padding.
    /// - Parameters:
    ///   - tokenTypes: per sentence, its segment ids (nil: all 0, a single segment).
    ///   - hiddenStates: keep every layer's output (`BertOutput.hiddenStates`).
    ///   - linearInputs: sees the input of every linear layer as it is applied (calibration).
    public func encode(_ sentences: [[Int32]], tokenTypes: [[Int32]]? = nil, hiddenStates: Bool = false,
                       linearInputs: LinearInputObserver? = nil) throws -> BertOutput {
        let c = config, D = c.hiddenSize
        guard !sentences.isEmpty else { throw ModelError.badRequest(flag: "sentences", reason: "are empty; pass at least one tokenized sentence") }
        if let tokenTypes, tokenTypes.count != sentences.count || zip(tokenTypes, sentences).contains(where: { $0.count != $1.count }) {
            throw ModelError.badRequest(flag: "token types", reason: "must have one id per token of every sentence")
        }
        var offsets = [0]
        for (i, s) in sentences.enumerated() {
            guard (1...c.maxPositionEmbeddings).contains(s.count) else {
                throw ModelError.badRequest(flag: "sentence \(i)", reason: "has \(s.count) tokens; the model takes 1 to \(c.maxPositionEmbeddings) (truncate it)")
            }
            if let bad = s.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
                throw ModelError.badRequest(flag: "sentence \(i)", reason: "contains token \(bad), outside the vocabulary 0..<\(c.vocabSize)")
            }
            if let types = tokenTypes?[i], let bad = types.first(where: { $0 < 0 || Int($0) >= c.typeVocabSize }) {
                throw ModelError.badRequest(flag: "sentence \(i)", reason: "has token type \(bad), outside 0..<\(c.typeVocabSize)")
            }
            offsets.append(offsets.last! + s.count)
        }
        let ws = BertWorkspace(model: self, offsets: offsets)
        ws.linearInputs = linearInputs
        ws.embed(sentences, tokenTypes: tokenTypes)
        var states: [[Float]]? = hiddenStates ? [ws.hidden] : nil
        for layer in layers {
            ws.apply(layer)
            if hiddenStates { states!.append(ws.hidden) }
        }
        return BertOutput(sentences: sentences.count, width: D, offsets: offsets, embeddings: ws.meanPooledNormalized(),
                          poolerOutput: ws.pooled(), hiddenStates: states)
    }
}

/// Buffers for one batch, allocated once per pass and reused by every layer.
final class BertWorkspace {
    let m: BertEncoder
    let offsets: [Int]
    let N: Int, D: Int, I: Int
    var linearInputs: LinearInputObserver?
    var hidden: [Float], qkv: [Float], context: [Float], tmp: [Float], intermediate: [Float]

    init(model: BertEncoder, offsets: [Int]) {
        m = model
        self.offsets = offsets
        N = offsets.last!; D = model.config.hiddenSize; I = model.config.intermediateSize
        hidden = [Float](repeating: 0, count: N * D)
        context = hidden; tmp = hidden
        qkv = [Float](repeating: 0, count: N * 3 * D)
        intermediate = [Float](repeating: 0, count: N * I)
    }

    var sentences: Int { offsets.count - 1 }

    /// BertEmbeddings: (word + token type) + position, in transformers' order of additions, then LayerNorm.
    func embed(_ sentences: [[Int32]], tokenTypes: [[Int32]]?) {
        let D = self.D
        hidden.withUnsafeMutableBufferPointer { h in
            var row = [Float](repeating: 0, count: D)
            for (b, s) in sentences.enumerated() {
                for (t, id) in s.enumerated() {
                    let r = offsets[b] + t, type = Int(tokenTypes?[b][t] ?? 0)
                    row.withUnsafeMutableBufferPointer { m.wordEmbeddings.copyRow(Int(id), into: $0.baseAddress!) }
                    for j in 0..<D { h[r * D + j] = (row[j] + m.tokenTypeEmbeddings[type * D + j]) + m.positionEmbeddings[t * D + j] }
                }
            }
        }
        layerNorm(m.embeddingsNorm, residual: nil)
    }

    /// One `BertLayer`: h ← LN(h + Attention(h)), h ← LN(h + W₂·GELU(W₁·h)) (post-norm).
    func apply(_ layer: BertEncoder.Layer) {
        let (N, D) = (self.N, self.D)
        hidden.withUnsafeBufferPointer { h in
            qkv.withUnsafeMutableBufferPointer { q in
                for name in layer.qkvNames { linearInputs?.observe(layer: name, inputs: h.baseAddress!, rows: N, columns: D) }
                layer.qkv.apply(h.baseAddress!, rows: N, into: q.baseAddress!)
            }
        }
        attend()
        linear(layer.attentionOutput, &context, into: &tmp)
        layerNorm(layer.attentionNorm, residual: tmp)
        linear(layer.intermediate, &hidden, into: &intermediate)
        intermediate.withUnsafeMutableBufferPointer { a in
            let p = UnsafeSendable(a.baseAddress!), I = self.I
            Parallel.forEachChunk(count: N, minChunk: max(1, 8192 / I)) { r in sk_gelu_erf(p.pointer + r.lowerBound * I, r.count * I) }
        }
        linear(layer.output, &intermediate, into: &tmp)
        layerNorm(layer.outputNorm, residual: tmp)
    }

    /// Every head of every sentence: softmax(q·kᵀ/√d)·v over the sentence's own tokens, into `context`.
    func attend() {
        let c = m.config, heads = c.numAttentionHeads, d = c.headDim, D = self.D
        let scale = 1 / Float(Double(d).squareRoot())
        let longest = (0..<sentences).map { offsets[$0 + 1] - offsets[$0] }.max() ?? 0
        qkv.withUnsafeMutableBufferPointer { q in
            context.withUnsafeMutableBufferPointer { o in
                offsets.withUnsafeBufferPointer { off in
                    let p = UnsafeSendable((q.baseAddress!, o.baseAddress!, off.baseAddress!))
                    // Tasks take whole (sentence, head) pairs, each task its own scratch.
                    Parallel.forEachChunk(count: sentences * heads, minChunk: 1) { r in
                        let (qp, op, offp) = p.pointer
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: longest * (d + 1))
                        defer { scratch.deallocate() }
                        for item in r {
                            let b = item / heads, k = item % heads
                            let start = offp[b], length = offp[b + 1] - start
                            let base = qp + start * 3 * D
                            sk_attention_head(base + k * d, base + D + k * d, base + 2 * D + k * d, 3 * D, length, d, scale,
                                              op + start * D + k * d, D, scratch)
                        }
                    }
                }
            }
        }
    }

    /// hidden ← LayerNorm(hidden + residual) row-wise, in parallel.
    func layerNorm(_ norm: BertEncoder.Norm, residual: [Float]?) {
        let (N, D) = (self.N, self.D), eps = Float(m.config.layerNormEps)
        hidden.withUnsafeMutableBufferPointer { h in
            norm.weight.withUnsafeBufferPointer { g in
                norm.bias.withUnsafeBufferPointer { b in
                    func run(_ r: UnsafePointer<Float>?) {
                        let p = UnsafeSendable((h.baseAddress!, r, g.baseAddress!, b.baseAddress!))
                        Parallel.forEachChunk(count: N, minChunk: max(1, 16384 / D)) { rows in
                            let (hp, rp, gp, bp) = p.pointer
                            let o = rows.lowerBound * D
                            sk_add_layer_norm_rows(hp + o, rp.map { $0 + o }, rows.count, D, gp, bp, eps, hp + o)
                        }
                    }
                    if let residual { residual.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
                }
            }
        }
    }

    /// y = x·Wᵀ + b over all token rows, showing x to the calibration observer first.
    func linear(_ l: PackedLinear, _ x: inout [Float], into y: inout [Float]) {
        let rows = N
        x.withUnsafeBufferPointer { xs in
            y.withUnsafeMutableBufferPointer { ys in
                linearInputs?.observe(layer: l.name, inputs: xs.baseAddress!, rows: rows, columns: l.inFeatures)
                l.apply(xs.baseAddress!, rows: rows, into: ys.baseAddress!)
            }
        }
    }

    /// sentence-transformers Pooling (mean_tokens: Σ h·mask / Σ mask) then Normalize (x / max(‖x‖₂, 1e-12)),
    /// summed in double.
    func meanPooledNormalized() -> [Float] {
        var out = [Float](repeating: 0, count: sentences * D)
        var acc = [Double](repeating: 0, count: D)
        for b in 0..<sentences {
            for j in 0..<D { acc[j] = 0 }
            for r in offsets[b]..<offsets[b + 1] { for j in 0..<D { acc[j] += Double(hidden[r * D + j]) } }
            let count = Double(offsets[b + 1] - offsets[b])
            var norm = 0.0
            for j in 0..<D { acc[j] /= count; norm += acc[j] * acc[j] }
            let inv = 1 / max(norm.squareRoot(), 1e-12)
            for j in 0..<D { out[b * D + j] = Float(acc[j] * inv) }
        }
        return out
    }

    /// `BertPooler`: tanh(W·h_[CLS] + b) per sentence.
    func pooled() -> [Float]? {
        guard let pooler = m.pooler else { return nil }
        var first = [Float](repeating: 0, count: sentences * D)
        for b in 0..<sentences { for j in 0..<D { first[b * D + j] = hidden[offsets[b] * D + j] } }
        var y = [Float](repeating: 0, count: sentences * D)
        first.withUnsafeBufferPointer { f in
            y.withUnsafeMutableBufferPointer { ys in
                linearInputs?.observe(layer: pooler.name, inputs: f.baseAddress!, rows: sentences, columns: D)
                pooler.apply(f.baseAddress!, rows: sentences, into: ys.baseAddress!)
            }
        }
        return y.map { tanh($0) }
    }
}
