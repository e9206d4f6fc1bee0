import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// `shrink export c`: a recursive reasoner as self-contained C99 for a
/// microcontroller — `model.h` (the API), `model.c` (the forward pass),
/// `model_internal.h` and `model_config.h` (types, dimensions, arena offsets),
/// `weights.c` (every weight as a `const` array, so it links into flash).
///
/// A compressed directory's linear weights stay packed as stored (codes + scales
/// + zero points per group; 2–4-bit codes two per byte, 5–8-bit one per byte) and
/// are dequantized a row at a time while the forward pass runs; an FP32 directory
/// exports float weights. A weight with low-rank factors (`shrink quantize --low-rank`,
/// W ≈ Ŵ + A·B) adds `<id>_lora_a` [rows, R] and `<id>_lora_b` [R, columns] (F16 bits as
/// `uint16_t`), and the runtime's linear adds A·(B·x) after the quantized product
/// (`CRuntime`). Activations use one static arena laid out by
/// `ReasonerFamily.arena(batch: 1)`. The run has no halting: `--steps`
/// supervision steps at the config's H/L cycles, like `shrink eval`, so the Q head
/// is not exported.
public enum CExport {
    public struct LinearEntry: Codable, Sendable {
        public var name: String
        public var rows: Int
        public var columns: Int
        /// 32 for float weights.
        public var bits: Int
        public var groupsPerRow: Int
        /// Bytes of its arrays, the low-rank factors' included.
        public var bytes: Int
        /// The rank of its low-rank factors (0: none).
        public var rank: Int = 0
    }

    public struct Summary: Codable, Sendable {
        public var output: String
        public var files: [String]
        public var architecture: String
        public var steps: Int
        public var hCycles: Int
        public var lCycles: Int
        /// Bytes of all `const` arrays (weights, scales, tables) before alignment.
        public var constantBytes: Int
        public var arena: ActivationArena
        /// Bytes of the static `lora_t` buffer beside the arena (SHRINK_LORA_ROWS × SHRINK_LORA_RANK floats; 0 without factors).
        public var lowRankScratchBytes: Int
        public var linears: [LinearEntry]
    }

    @discardableResult
    public static func run(model directory: String, output: String, steps: Int? = nil, overwrite: Bool = false) throws -> Summary {
        let model = try RecursiveReasoner.load(directory: directory)
        let c = model.config
        let steps = steps ?? c.haltMaxSteps
        if steps < 1 { throw ExportError.badFlag(flag: "--steps", value: String(steps), reason: "must be at least 1") }
        let dir = model.location
        let compressed = CompressedCheckpoint.isCompressed(dir) ? try CompressedCheckpoint(directory: dir) : nil
        let source: any TensorSource = try compressed ?? Checkpoint.open(dir)
        let arena = ReasonerFamily(c).arena(batch: 1)

        var w = WeightsWriter(source: source, compressed: compressed)
        try w.floats("shrink_embed_tokens", ReasonerNames.embedTokens)
        try w.floats("shrink_h_init", ReasonerNames.hInit)
        try w.floats("shrink_l_init", ReasonerNames.lInit)
        if c.puzzleEmbNdim > 0 { try w.floats("shrink_puzzle_emb", ReasonerNames.puzzleEmbedding) }
        if c.posEncodings == .learned { try w.floats("shrink_pos_emb", ReasonerNames.positionEmbedding) }
        if c.usesRoPE {
            let (cosT, sinT) = RecursiveReasoner.ropeTables(c)
            w.floats("shrink_rope_cos", values: cosT)
            w.floats("shrink_rope_sin", values: sinT)
        }
        let lmHead = try w.linear(ReasonerNames.lmHead)
        w.text += "const shrink_linear shrink_lm_head = \(lmHead);\n\n"
        func module(_ level: ReasonerNames.Level, _ symbol: String, layers: Int) throws {
            var blocks: [String] = []
            for i in 0..<layers {
                let b = ReasonerNames.block(level, i)
                let none = WeightsWriter.absent
                let qkv = c.mlpT ? none : try w.linear(b.qkv)
                let o = c.mlpT ? none : try w.linear(b.output)
                let tgu = c.mlpT ? try w.linear(b.tokenGateUp) : none
                let td = c.mlpT ? try w.linear(b.tokenDown) : none
                let gu = try w.linear(b.gateUp), dn = try w.linear(b.down)
                blocks.append("    {\(qkv), \(o), \(tgu), \(td), \(gu), \(dn)}")
            }
            w.text += "const shrink_block \(symbol)[\(layers)] = {\n" + blocks.joined(separator: ",\n") + "\n};\n\n"
        }
        try module(.low, "shrink_l_level", layers: c.lLayers)
        let hLayers = c.arch == .hrm ? c.hLayers : 0
        if hLayers > 0 { try module(.high, "shrink_h_level", layers: hLayers) }

        let out = try OutputDirectory(path: output, overwrite: overwrite)
        let files: [(String, String)] = [
            ("model.h", header(c, steps: steps, arena: arena)),
            ("model_config.h", configHeader(c, steps: steps, hLayers: hLayers, arena: arena, lowRank: w.maxRank)),
            ("model_internal.h", CRuntime.internalHeader),
            ("model.c", CRuntime.source),
            ("weights.c", "/* Generated by `shrink export c` from \(FileSystem.lastComponent(dir)). */\n#include \"model_internal.h\"\n\n" + w.text),
        ]
        for (name, text) in files { try AtomicFile.write(text, to: out.path + "/" + name) }
        try out.commit()
        return Summary(output: out.finalPath, files: files.map(\.0), architecture: c.arch.rawValue, steps: steps, hCycles: c.hCycles,
                       lCycles: c.lCycles, constantBytes: w.constantBytes, arena: arena,
                       lowRankScratchBytes: 4 * lowRankRows(c) * w.maxRank, linears: w.linears)
    }

    static func header(_ c: ReasonerConfig, steps: Int, arena: ActivationArena) -> String {
        CRuntime.header
            .replacingOccurrences(of: "@SEQ_LEN@", with: String(c.seqLen))
            .replacingOccurrences(of: "@VOCAB@", with: String(c.vocabSize))
            .replacingOccurrences(of: "@NUM_IDS@", with: String(c.numPuzzleIdentifiers))
            .replacingOccurrences(of: "@ARENA_BYTES@", with: String(arena.totalBytes))
            .replacingOccurrences(of: "@STEPS@", with: String(steps))
            .replacingOccurrences(of: "@H_CYCLES@", with: String(c.hCycles))
            .replacingOccurrences(of: "@L_CYCLES@", with: String(c.lCycles))
    }

    /// The most input rows any linear layer takes at batch 1: positions, or the hidden size for `mlp_t`'s token mixers.
    static func lowRankRows(_ c: ReasonerConfig) -> Int { c.mlpT ? max(c.positions, c.hiddenSize) : c.positions }

    static func configHeader(_ c: ReasonerConfig, steps: Int, hLayers: Int, arena: ActivationArena, lowRank: Int) -> String {
        var defines: [(String, String)] = [
            ("SHRINK_POSITIONS", String(c.positions)), ("SHRINK_HIDDEN", String(c.hiddenSize)),
            ("SHRINK_HEADS", String(c.numHeads)), ("SHRINK_HEAD_DIM", String(c.headDim)), ("SHRINK_ATTENTION_WIDTH", String(c.attentionWidth)),
            ("SHRINK_L_LAYERS", String(c.lLayers)), ("SHRINK_H_LAYERS", String(hLayers)),
            ("SHRINK_STEPS", String(steps)), ("SHRINK_H_CYCLES", String(c.hCycles)), ("SHRINK_L_CYCLES", String(c.lCycles)),
            ("SHRINK_MLP_T", c.mlpT ? "1" : "0"), ("SHRINK_ROPE", c.usesRoPE ? "1" : "0"),
            ("SHRINK_LEARNED_POS", c.posEncodings == .learned ? "1" : "0"),
            ("SHRINK_PUZZLE_EMB_NDIM", String(c.puzzleEmbNdim)), ("SHRINK_PUZZLE_EMB_LEN", String(c.puzzleEmbLen)),
            ("SHRINK_RMS_EPS", cFloat(Float(c.rmsNormEps))),
            ("SHRINK_EMBED_SCALE", cFloat(Float(Double(c.hiddenSize).squareRoot()))),
            ("SHRINK_ATTENTION_SCALE", cFloat(1 / Float(Double(c.headDim).squareRoot()))),
            ("SHRINK_LORA_RANK", String(lowRank)), ("SHRINK_LORA_ROWS", String(lowRankRows(c))),
        ]
        for b in arena.buffers { defines.append(("SHRINK_OFF_" + b.name.uppercased(), String(b.offsetBytes / 4))) }
        return configFile(defines, arena: arena)
    }

    /// model_config.h: the defines, then the arena's layout as a comment.
    static func configFile(_ defines: [(String, String)], arena: ActivationArena) -> String {
        var s = "/* Generated by `shrink export c`: dimensions and arena offsets (in floats). */\n"
        s += "#ifndef SHRINK_MODEL_CONFIG_H\n#define SHRINK_MODEL_CONFIG_H\n\n"
        for (k, v) in defines { s += "#define \(k) \(v)\n" }
        s += "\n/* Arena (\(arena.totalBytes) bytes):\n"
        for b in arena.buffers { s += " *   \(b.name) [\(b.phase)] at \(b.offsetBytes), \(b.bytes) bytes\n" }
        return s + " */\n\n#endif\n"
    }
}

/// A float as a C99 literal that reads back to the same float.
func cFloat(_ x: Float) -> String { String(format: "%.9ef", Double(x)) }

/// Accumulates weights.c: arrays and the shrink_linear initializers that point at them.
struct WeightsWriter {
    let source: any TensorSource
    let compressed: CompressedCheckpoint?
    var text = ""
    var constantBytes = 0
    var linears: [CExport.LinearEntry] = []
    private var counter = 0

    /// The low-rank fields of a layer without factors.
    static let noFactors = "0, 0, 0, 0, 0"
    /// The initializer of a layer the block does not have.
    static let absent = "{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, \(noFactors)}"
    /// The largest factor rank of any layer (0: none), which sizes the runtime's `lora_t`.
    var maxRank = 0

    init(source: any TensorSource, compressed: CompressedCheckpoint?) {
        self.source = source
        self.compressed = compressed
    }

    mutating func floats(_ symbol: String, _ tensor: String) throws {
        floats(symbol, values: try source.floats(tensor), isStatic: false)
    }

    mutating func floats(_ symbol: String, values: [Float], isStatic: Bool = false) {
        array(symbol, type: "float", isStatic: isStatic, elements: values.map(cFloat))
        constantBytes += 4 * values.count
    }

    private mutating func array(_ symbol: String, type: String, isStatic: Bool, elements: [String]) {
        text += (isStatic ? "static " : "") + "const \(type) \(symbol)[\(max(1, elements.count))] = {\n"
        var line = "   "
        for (i, e) in elements.enumerated() {
            line += " " + e + (i + 1 < elements.count ? "," : "")
            if line.count > 100 { text += line + "\n"; line = "   " }
        }
        if line.count > 3 { text += line + "\n" }
        text += "};\n"
    }

    /// Emits a linear layer's arrays; returns its shrink_linear initializer, with `bias` (an emitted float array's
    /// symbol) as its bias. A convolution kernel [out, in, kh, kw] is the layer [out, in·kh·kw].
    mutating func linear(_ name: String, bias: String? = nil) throws -> String {
        counter += 1
        let id = "w\(counter)"
        let info = try source.requireInfo(name)
        let rows = info.shape.dims[0], columns = info.shape.elementCount / max(1, rows)
        let b = bias ?? "0"
        text += "/* \(name) [\(rows), \(columns)] */\n"
        guard let packed = compressed?.packedWeights[name] else {
            let values = try source.floats(name)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ExportError.nonFinite(file: source.location, tensor: name, index: bad)
            }
            floats(id + "_w", values: values, isStatic: true)
            linears.append(.init(name: name, rows: rows, columns: columns, bits: 32, groupsPerRow: 1, bytes: 4 * values.count))
            return "{\(rows), \(columns), 32, 1, \(id)_w, 0, 0, 0, 0, \(b), \(Self.noFactors)}"
        }
        if packed.layout.scheme.grid == .ggmlMinimum { throw ExportError.ggmlMinimumGrid(file: compressed!.location, tensor: name, format: "C") }
        let q = try compressed!.quantized(packed)
        let bits = q.scheme.bits
        let groups = q.layout.groupsPerRow
        let perRow = q.scales.count == rows * groups ? q.scales : (0..<(rows * groups)).map { q.scales[$0 % q.scales.count] }
        if let bad = perRow.firstIndex(where: { !$0.isFinite }) {
            throw ExportError.nonFinite(file: source.location, tensor: name + "_scale", index: bad)
        }
        var codes: [Int8] = []
        codes.reserveCapacity(rows * columns)
        q.packed.withUnsafeBufferPointer { p in
            for r in 0..<rows {
                codes += BitPacking.unpack(UnsafeBufferPointer(rebasing: p[(r * q.layout.wordsPerRow)..<((r + 1) * q.layout.wordsPerRow)]),
                                           count: columns, bits: bits)
            }
        }
        var bytes = 4 * perRow.count
        let q8: String, q4: String
        if bits > 4 {
            array(id + "_q", type: "int8_t", isStatic: true, elements: codes.map { String($0) })
            bytes += codes.count
            (q8, q4) = (id + "_q", "0")
        } else {
            let rowBytes = (columns + 1) / 2
            var nibbles = [UInt8](repeating: 0, count: rows * rowBytes)
            for r in 0..<rows {
                for k in 0..<columns {
                    nibbles[r * rowBytes + k / 2] |= UInt8(Int(codes[r * columns + k]) + 8) << UInt8((k & 1) * 4)
                }
            }
            array(id + "_q", type: "uint8_t", isStatic: true, elements: nibbles.map { String($0) })
            bytes += nibbles.count
            (q8, q4) = ("0", id + "_q")
        }
        array(id + "_s", type: "float", isStatic: true, elements: perRow.map(cFloat))
        var zero = "0"
        if !q.zeroPoints.isEmpty {
            let z = q.zeroPoints.count == rows * groups ? q.zeroPoints : (0..<(rows * groups)).map { q.zeroPoints[$0 % q.zeroPoints.count] }
            array(id + "_z", type: "int8_t", isStatic: true, elements: z.map { String($0) })
            bytes += z.count
            zero = id + "_z"
        }
        let lora = try lowRankArrays(name, id: id, rows: rows, columns: columns)
        bytes += lora.bytes
        constantBytes += bytes
        linears.append(.init(name: name, rows: rows, columns: columns, bits: bits, groupsPerRow: groups, bytes: bytes, rank: lora.rank))
        return "{\(rows), \(columns), \(bits), \(groups), 0, \(q8), \(q4), \(id)_s, \(zero), \(b), \(lora.initializer)}"
    }

    /// Weight `name`'s low-rank factors (`shrink quantize --low-rank`: W ≈ Ŵ + A·B) as `<id>_lora_a`
    /// [rows, R] and `<id>_lora_b` [R, columns], row-major: stored F16 factors as their bits
    /// (`uint16_t`, decoded exactly at run time), any other dtype as the floats Shrink reads.
    /// Returns the `rank, lora_a, lora_b, lora_a_f16, lora_b_f16` part of the initializer.
    private mutating func lowRankArrays(_ name: String, id: String, rows: Int, columns: Int) throws -> (initializer: String, rank: Int, bytes: Int) {
        guard let compressed, compressed.lowRankWeights.contains(name) else { return (Self.noFactors, 0, 0) }
        let stored = compressed.stored
        let f = try LowRankCompensation.read(name, rows: rows, columns: columns, from: stored)
        let names = (a: name + LowRankCompensation.suffixA, b: name + LowRankCompensation.suffixB)
        maxRank = max(maxRank, f.rank)
        text += "/* \(names.a) [\(rows), \(f.rank)], \(names.b) [\(f.rank), \(columns)] */\n"
        if try stored.requireInfo(names.a).dtype == .f16, try stored.requireInfo(names.b).dtype == .f16 {
            for (suffix, tensor) in [("_lora_a", names.a), ("_lora_b", names.b)] {
                let raw = try stored.rawBytes(tensor)
                let halves = (0..<(raw.count / 2)).map { raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian }
                array(id + suffix, type: "uint16_t", isStatic: true, elements: halves.map { String($0) })
            }
            return ("\(f.rank), 0, 0, \(id)_lora_a, \(id)_lora_b", f.rank, 2 * (f.a.count + f.b.count))
        }
        array(id + "_lora_a", type: "float", isStatic: true, elements: f.a.map(cFloat))
        array(id + "_lora_b", type: "float", isStatic: true, elements: f.b.map(cFloat))
        return ("\(f.rank), \(id)_lora_a, \(id)_lora_b, 0, 0", f.rank, 4 * (f.a.count + f.b.count))
    }
}
