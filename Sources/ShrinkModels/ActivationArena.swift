/// The activation memory of one forward pass, laid out as named buffers in one
/// arena: what the C export allocates statically and what a device budget must hold.
///
/// Buffers are either persistent (live for the whole run) or belong to one phase
/// (a sub-layer: attention, token MLP, channel MLP, the output head) and are dead
/// when the phase ends. Persistent buffers come first; all phases share one region
/// after them, as large as the largest phase. Peak memory is therefore
/// persistent + max(phase), not the sum of every buffer.
public struct ActivationArena: Codable, Sendable, Equatable {
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
    public static let persistent = "persistent"

    public var buffers: [Buffer]
    public var totalBytes: Int
    /// Bytes from the start of the arena to the shared phase region.
    public var persistentBytes: Int

    public func buffer(_ name: String) -> Buffer? { buffers.first { $0.name == name } }

    /// The phase that sets the peak (the first of equals).
    public var largestPhase: String? {
        var best: (String, Int)?
        for b in buffers where b.phase != Self.persistent {
            let end = b.offsetBytes + b.bytes
            if best == nil || end > best!.1 { best = (b.phase, end) }
        }
        return best?.0
    }

    /// Lays out F32 buffers (sizes in floats): the persistent ones one after
    /// another, then every phase from the same offset.
    public init(persistent: [(name: String, floats: Int)], phases: [(phase: String, buffers: [(name: String, floats: Int)])]) {
        func aligned(_ n: Int) -> Int { (n + Self.alignment - 1) / Self.alignment * Self.alignment }
        var buffers: [Buffer] = []
        var offset = 0
        for (name, floats) in persistent {
            buffers.append(Buffer(name: name, phase: Self.persistent, offsetBytes: offset, bytes: 4 * floats))
            offset = aligned(offset + 4 * floats)
        }
        let shared = offset
        var end = shared
        for (phase, list) in phases {
            var o = shared
            for (name, floats) in list {
                buffers.append(Buffer(name: name, phase: phase, offsetBytes: o, bytes: 4 * floats))
                o = aligned(o + 4 * floats)
            }
            end = max(end, o)
        }
        self.buffers = buffers
        self.totalBytes = end
        self.persistentBytes = shared
    }
}
