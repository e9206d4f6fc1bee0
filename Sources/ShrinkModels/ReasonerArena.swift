/// The activation memory of one forward pass, laid out as named buffers in one
/// arena (what the C export allocates statically, what a device budget must hold).
///
/// Three buffers live for the whole run: the input embedding `x` and the carries
/// `z_h`, `z_l` (updates are in place: z_L ← L(z_L + (z_H + x)), z_H ← H(z_H + z_L),
/// so no injection buffer is needed), plus `weight_row`, one dequantized weight row.
/// Everything else belongs to one phase of a block (attention, token MLP, channel
/// MLP, the output head) and is dead when the phase ends, so all phases share one
/// region that starts after the persistent buffers and is as large as the largest phase.
public struct ReasonerArena: Codable, Sendable, Equatable {
    public struct Buffer: Codable, Sendable, Equatable {
        public var name: String
        /// The phase that uses it ("persistent" for the whole run).
        public var phase: String
        public var offsetBytes: Int
        public var bytes: Int
        public var floats: Int { bytes / MemoryLayout<Float>.size }
    }

    /// Every buffer starts on this many bytes (SIMD loads, DMA on small cores).
    public static let alignment = 16

    public var buffers: [Buffer]
    public var totalBytes: Int

    public func buffer(_ name: String) -> Buffer? { buffers.first { $0.name == name } }

    /// The layout for `batch` puzzles at once (the C export runs batch 1).
    public static func layout(config c: ReasonerConfig, batch: Int = 1) -> ReasonerArena {
        let B = batch, P = c.positions, D = c.hiddenSize, inter = c.swigluWidth(D)
        let interT = c.mlpT ? c.swigluWidth(P) : 0
        func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
        var buffers: [Buffer] = []
        var offset = 0
        for (name, floats) in [("x", B * P * D), ("z_h", B * P * D), ("z_l", B * P * D), ("weight_row", max(D, inter, P, interT))] {
            buffers.append(Buffer(name: name, phase: "persistent", offsetBytes: offset, bytes: 4 * floats))
            offset = aligned(offset + 4 * floats)
        }
        let shared = offset
        var phases: [(String, [(String, Int)])] = [
            ("mlp", [("gate_up", B * P * 2 * inter), ("act", B * P * inter), ("mlp_out", B * P * D)]),
            ("head", [("logits", c.vocabSize)]),
        ]
        if c.mlpT {
            phases.insert(("token_mlp", [("tokens", B * D * P), ("token_gate_up", B * D * 2 * interT), ("token_act", B * D * interT),
                                         ("token_out", B * D * P)]), at: 0)
        } else {
            phases.insert(("attention", [("qkv", B * P * 3 * D), ("attention", B * P * D), ("scores", P), ("attention_out", B * P * D)]), at: 0)
        }
        var end = shared
        for (phase, list) in phases {
            var o = shared
            for (name, floats) in list {
                buffers.append(Buffer(name: name, phase: phase, offsetBytes: o, bytes: 4 * floats))
                o = aligned(o + 4 * floats)
            }
            end = max(end, o)
        }
        return ReasonerArena(buffers: buffers, totalBytes: end)
    }
}
