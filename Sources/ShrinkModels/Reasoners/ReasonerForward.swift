import CShrinkKernels
import ShrinkTensor

/// Where a traced carry state was taken.
public enum CarryPoint: Hashable, Sendable {
    /// z_L after L update `l` of H cycle `h`, in supervision step `step` (all 0-based).
    case lowUpdate(step: Int, h: Int, l: Int)
    /// z_H after the H update of cycle `h`.
    case highUpdate(step: Int, h: Int)
    /// z_H and z_L at the end of a supervision step.
    case stepEnd(step: Int)
}

/// Receives the carry as the forward pass produces it. Only a traced run pays for
/// copies; the untraced path checks one optional per update.
public protocol CarryObserver: AnyObject {
    /// `zH`/`zL` are [B, P, D]; `zH` is nil for `.lowUpdate` and `zL` for `.highUpdate`.
    func observe(_ point: CarryPoint, zH: UnsafeBufferPointer<Float>?, zL: UnsafeBufferPointer<Float>?)
}

/// Sees the input of every linear layer as the forward pass applies it (for
/// calibration): `rows` × `columns` values, row-major, for weight `layer`.
public protocol LinearInputObserver: AnyObject {
    func observe(layer: String, inputs: UnsafePointer<Float>, rows: Int, columns: Int)
    /// Several weights applied to the same input (q/k/v, gate/up): one call, so an observer can share its work.
    func observe(layers: [String], inputs: UnsafePointer<Float>, rows: Int, columns: Int)
    /// The inputs observed next come from calibration units `units` (puzzles of a batch, one text chunk), so an
    /// observer can name the unit an activation came from.
    func beginUnits(_ units: Range<Int>)
}

extension LinearInputObserver {
    public func beginUnits(_ units: Range<Int>) {}
    public func observe(layers: [String], inputs: UnsafePointer<Float>, rows: Int, columns: Int) {
        for l in layers { observe(layer: l, inputs: inputs, rows: rows, columns: columns) }
    }
}

/// Outputs of one supervision step for a batch.
public struct StepOutput: Sendable {
    /// [B, L, V]
    public var logits: [Float]
    /// [B]
    public var qHalt: [Float]
    public var qContinue: [Float]
}

/// Recursion depth to run: defaults are the config's.
public struct RecursionDepth: Codable, Sendable, Equatable {
    public var steps: Int
    public var hCycles: Int
    public var lCycles: Int
    public init(steps: Int, hCycles: Int, lCycles: Int) { self.steps = steps; self.hCycles = hCycles; self.lCycles = lCycles }
}

extension RecursiveReasoner {
    public var fullDepth: RecursionDepth { RecursionDepth(steps: config.haltMaxSteps, hCycles: config.hCycles, lCycles: config.lCycles) }

    /// Runs `depth.steps` supervision steps on a batch from the initial carry
    /// (z_H = H_init, z_L = L_init everywhere), calling `onStep` after each.
    /// - Parameters:
    ///   - inputs: [batch, seq_len] token ids (checked against the vocabulary).
    ///   - puzzleIdentifiers: [batch]
    public func run(inputs: [Int32], puzzleIdentifiers: [Int32], batch: Int, depth: RecursionDepth? = nil,
                    observer: CarryObserver? = nil, linearInputs: LinearInputObserver? = nil,
                    onStep: (Int, StepOutput) -> Void) throws {
        let c = config, L = c.seqLen, V = c.vocabSize
        let depth = depth ?? fullDepth
        guard inputs.count == batch * L else {
            throw ModelError.badRequest(flag: "inputs", reason: "hold \(inputs.count) tokens, expected \(batch) × \(L)")
        }
        if let bad = inputs.first(where: { $0 < 0 || Int($0) >= V }) {
            throw ModelError.badRequest(flag: "inputs", reason: "contain token \(bad), outside the model's vocabulary 0..<\(V)")
        }
        let ids = puzzleIdentifiers.count == batch ? puzzleIdentifiers : [Int32](repeating: 0, count: batch)
        if puzzleEmbedding != nil, let bad = ids.first(where: { $0 < 0 || Int($0) >= c.numPuzzleIdentifiers }) {
            throw ModelError.badRequest(flag: "puzzle_identifiers", reason: "contain \(bad), outside 0..<\(c.numPuzzleIdentifiers)")
        }
        let ws = Workspace(model: self, batch: batch)
        ws.linearInputs = linearInputs
        ws.embed(inputs: inputs, ids: ids)
        ws.resetCarry()
        for step in 0..<depth.steps {
            ws.step(step, depth: depth, observer: observer)
            onStep(step, ws.heads())
        }
    }

    /// The input embedding x [B, P, D] (for parity checks).
    public func inputEmbeddings(inputs: [Int32], puzzleIdentifiers: [Int32], batch: Int) -> [Float] {
        let ws = Workspace(model: self, batch: batch)
        ws.embed(inputs: inputs, ids: puzzleIdentifiers.count == batch ? puzzleIdentifiers : [Int32](repeating: 0, count: batch))
        return ws.x
    }
}

/// Buffers for one batch, allocated once per run and reused by every update.
final class Workspace {
    let m: RecursiveReasoner
    let B: Int, P: Int, D: Int
    var linearInputs: LinearInputObserver?
    var x: [Float], zH: [Float], zL: [Float], injection: [Float], tmp: [Float]
    var qkv: [Float], attention: [Float], gateUp: [Float], act: [Float]
    var tokens: [Float], tokenGateUp: [Float], tokenAct: [Float], tokenTmp: [Float]

    init(model: RecursiveReasoner, batch: Int) {
        m = model
        let c = model.config
        B = batch; P = c.positions; D = c.hiddenSize
        let rows = B * P
        x = [Float](repeating: 0, count: rows * D)
        zH = x; zL = x; injection = x; tmp = x
        let inter = c.mlpWidth
        gateUp = [Float](repeating: 0, count: rows * 2 * inter)
        act = [Float](repeating: 0, count: rows * inter)
        if c.mlpT {
            let interT = c.tokenMLPWidth
            tokens = [Float](repeating: 0, count: B * D * P)
            tokenTmp = tokens
            tokenGateUp = [Float](repeating: 0, count: B * D * 2 * interT)
            tokenAct = [Float](repeating: 0, count: B * D * interT)
            qkv = []; attention = []
        } else {
            tokens = []; tokenTmp = []; tokenGateUp = []; tokenAct = []
            qkv = [Float](repeating: 0, count: rows * 3 * c.attentionWidth)
            attention = [Float](repeating: 0, count: rows * c.attentionWidth)
        }
    }

    func embed(inputs: [Int32], ids: [Int32]) {
        let c = m.config, E = c.puzzleEmbLen, L = c.seqLen
        var e = [Float](repeating: 0, count: B * P * D)
        for b in 0..<B {
            if let pe = m.puzzleEmbedding {
                e.withUnsafeMutableBufferPointer { pe.copyRow(Int(ids[b]), into: $0.baseAddress! + b * P * D) }
            }
            for t in 0..<L {
                let tok = Int(inputs[b * L + t]), dst = (b * P + E + t) * D
                for j in 0..<D { e[dst + j] = m.embedTokens[tok * D + j] }
            }
        }
        if let pos = m.positionEmbedding {
            for b in 0..<B { for i in 0..<(P * D) { e[b * P * D + i] = 0.707106781 * (e[b * P * D + i] + pos[i]) } }
        }
        let scale = Float(Double(D).squareRoot())
        for i in 0..<e.count { x[i] = scale * e[i] }
    }

    func resetCarry() {
        for r in 0..<(B * P) {
            for j in 0..<D { zH[r * D + j] = m.hInit[j]; zL[r * D + j] = m.lInit[j] }
        }
    }

    /// One supervision step (ARCHITECTURE.md §7).
    func step(_ step: Int, depth: RecursionDepth, observer: CarryObserver?) {
        let n = B * P * D
        for h in 0..<depth.hCycles {
            for l in 0..<depth.lCycles {
                add(zH, x, into: &injection, count: n)
                apply(m.lLevel, hidden: &zL, injection: injection)
                if let observer { zL.withUnsafeBufferPointer { observer.observe(.lowUpdate(step: step, h: h, l: l), zH: nil, zL: $0) } }
            }
            apply(m.hLevel ?? m.lLevel, hidden: &zH, injection: zL)
            if let observer { zH.withUnsafeBufferPointer { observer.observe(.highUpdate(step: step, h: h), zH: $0, zL: nil) } }
        }
        if let observer {
            zH.withUnsafeBufferPointer { a in zL.withUnsafeBufferPointer { b in observer.observe(.stepEnd(step: step), zH: a, zL: b) } }
        }
    }

    /// Logits from z_H's token positions and Q values from position 0.
    func heads() -> StepOutput {
        let c = m.config, E = c.puzzleEmbLen, L = c.seqLen, V = c.vocabSize
        var logits = [Float](repeating: 0, count: B * L * V)
        zH.withUnsafeBufferPointer { z in
            logits.withUnsafeMutableBufferPointer { out in
                if E == 0 {
                    linear(m.lmHead, z.baseAddress!, rows: B * L, into: out.baseAddress!)
                } else {
                    for b in 0..<B { linear(m.lmHead, z.baseAddress! + (b * P + E) * D, rows: L, into: out.baseAddress! + b * L * V) }
                }
            }
        }
        var first = [Float](repeating: 0, count: B * D)
        for b in 0..<B { for j in 0..<D { first[b * D + j] = zH[b * P * D + j] } }
        var q = [Float](repeating: 0, count: 2 * B)
        first.withUnsafeBufferPointer { f in q.withUnsafeMutableBufferPointer { linear(m.qHead, f.baseAddress!, rows: B, into: $0.baseAddress!) } }
        return StepOutput(logits: logits, qHalt: (0..<B).map { q[2 * $0] }, qContinue: (0..<B).map { q[2 * $0 + 1] })
    }

    // MARK: building blocks

    /// Applies a linear layer, showing its input to the calibration observer first.
    private func linear(_ l: PackedLinear, _ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        linearInputs?.observe(layer: l.name, inputs: x, rows: rows, columns: l.inFeatures)
        l.apply(x, rows: rows, into: y)
    }

    private func add(_ a: [Float], _ b: [Float], into y: inout [Float], count: Int) {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                y.withUnsafeMutableBufferPointer { py in
                    let p = UnsafeSendable((pa.baseAddress!, pb.baseAddress!, py.baseAddress!))
                    Parallel.forEachChunk(count: count, minChunk: 1 << 15) { r in
                        sk_add(p.pointer.0 + r.lowerBound, p.pointer.1 + r.lowerBound, r.count, p.pointer.2 + r.lowerBound)
                    }
                }
            }
        }
    }

    /// v ← rms_norm(v + u) row-wise (rows of length n), in parallel.
    private func residualNorm(_ v: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, rows: Int, n: Int) {
        let eps = Float(m.config.rmsNormEps)
        let p = UnsafeSendable((v, u))
        Parallel.forEachChunk(count: rows, minChunk: max(1, 8192 / n)) { r in
            let base = r.lowerBound * n
            sk_add(p.pointer.0 + base, p.pointer.1 + base, r.count * n, p.pointer.0 + base)
            sk_rms_norm_rows(p.pointer.0 + base, r.count, n, eps, p.pointer.0 + base)
        }
    }

    private func swiglu(_ s: RecursiveReasoner.SwiGLU, input: UnsafePointer<Float>, rows: Int,
                        gateUp: UnsafeMutablePointer<Float>, act: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let inter = s.inter
        linear(s.gateUp, input, rows: rows, into: gateUp)
        let p = UnsafeSendable((gateUp, act))
        Parallel.forEachChunk(count: rows, minChunk: max(1, 4096 / inter)) { r in
            sk_swiglu_rows(p.pointer.0 + r.lowerBound * 2 * inter, r.count, inter, p.pointer.1 + r.lowerBound * inter)
        }
        linear(s.down, act, rows: rows, into: output)
    }

    /// `hidden ← Module(hidden, injection)`: h = hidden + injection, then every block.
    private func apply(_ module: RecursiveReasoner.ReasoningModule, hidden: inout [Float], injection: [Float]) {
        let rows = B * P
        add(hidden, injection, into: &hidden, count: rows * D)
        hidden.withUnsafeMutableBufferPointer { hb in
            let h = hb.baseAddress!
            for block in module.blocks {
                if let token = block.tokenMLP {
                    mixTokens(token, h)
                } else {
                    attend(block, h)
                }
                gateUp.withUnsafeMutableBufferPointer { gu in
                    act.withUnsafeMutableBufferPointer { a in
                        tmp.withUnsafeMutableBufferPointer { t in
                            swiglu(block.mlp, input: h, rows: rows, gateUp: gu.baseAddress!, act: a.baseAddress!, output: t.baseAddress!)
                            residualNorm(h, t.baseAddress!, rows: rows, n: D)
                        }
                    }
                }
            }
        }
    }

    /// Self-attention sub-layer with residual and norm.
    private func attend(_ block: RecursiveReasoner.Block, _ h: UnsafeMutablePointer<Float>) {
        let c = m.config, rows = B * P, heads = c.numHeads, d = c.headDim
        let scale = 1 / Float(Double(d).squareRoot())
        qkv.withUnsafeMutableBufferPointer { q in
            attention.withUnsafeMutableBufferPointer { a in
                do {
                    m.ropeCos.withUnsafeBufferPointer { cosT in
                        m.ropeSin.withUnsafeBufferPointer { sinT in
                            linear(block.qkv!, h, rows: rows, into: q.baseAddress!)
                            let p = UnsafeSendable((q.baseAddress!, a.baseAddress!, cosT.baseAddress!, sinT.baseAddress!))
                            let (P, A, rope) = (self.P, c.attentionWidth, c.usesRoPE)
                            // Tasks take whole (batch, head) pairs, each task its own scratch.
                            Parallel.forEachChunk(count: B * heads, minChunk: 1) { r in
                                let (qp, ap, cp, snp) = p.pointer
                                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: P * (d + 1))
                                defer { scratch.deallocate() }
                                for item in r {
                                    let b = item / heads, k = item % heads
                                    let base = qp + b * P * 3 * A
                                    if rope {
                                        sk_rope_rows(base + k * d, P, d, 3 * A, cp, snp)
                                        sk_rope_rows(base + A + k * d, P, d, 3 * A, cp, snp)
                                    }
                                    sk_attention_head(base + k * d, base + A + k * d, base + 2 * A + k * d, 3 * A, P, d, scale,
                                                      ap + b * P * A + k * d, A, scratch)
                                }
                            }
                            tmp.withUnsafeMutableBufferPointer { t in
                                linear(block.output!, a.baseAddress!, rows: rows, into: t.baseAddress!)
                                residualNorm(h, t.baseAddress!, rows: rows, n: D)
                            }
                        }
                    }
                }
            }
        }
    }

    /// MLP across the sequence (TRM mlp_t): transpose to [B, D, P], SwiGLU and
    /// rms_norm over positions, transpose back.
    private func mixTokens(_ token: RecursiveReasoner.SwiGLU, _ h: UnsafeMutablePointer<Float>) {
        let (P, D) = (self.P, self.D)
        tokens.withUnsafeMutableBufferPointer { g in
            for b in 0..<B {
                for p in 0..<P { for j in 0..<D { g[(b * D + j) * P + p] = h[(b * P + p) * D + j] } }
            }
            tokenGateUp.withUnsafeMutableBufferPointer { gu in
                tokenAct.withUnsafeMutableBufferPointer { a in
                    tokenTmp.withUnsafeMutableBufferPointer { t in
                        swiglu(token, input: g.baseAddress!, rows: B * D, gateUp: gu.baseAddress!, act: a.baseAddress!, output: t.baseAddress!)
                        residualNorm(g.baseAddress!, t.baseAddress!, rows: B * D, n: P)
                    }
                }
            }
            for b in 0..<B {
                for p in 0..<P { for j in 0..<D { h[(b * P + p) * D + j] = g[(b * D + j) * P + p] } }
            }
        }
    }
}

/// Keeps z_H and z_L at the end of every supervision step: the carry a fidelity measurement compares.
public final class StepEndCarries: CarryObserver {
    /// Per step, [B, P, D].
    public private(set) var zH: [[Float]] = [], zL: [[Float]] = []
    public init() {}
    public func observe(_ point: CarryPoint, zH: UnsafeBufferPointer<Float>?, zL: UnsafeBufferPointer<Float>?) {
        guard case .stepEnd = point, let zH, let zL else { return }
        self.zH.append(Array(zH)); self.zL.append(Array(zL))
    }
}
