import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// One weight tensor of a model, as it is stored and read.
public struct TensorAccount: Codable, Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var dtype: DType
    /// Read one row at a time (a lookup table): can stay in flash and be streamed.
    public var rowRead: Bool
    /// A 2-D weight that `shrink quantize` may quantize.
    public var quantizable: Bool
    /// Bytes as stored in the checkpoint at hand when they differ from `dtype` (a GGUF block tensor).
    public var asStoredBytes: Int?

    public var parameters: Int { shape.reduce(1, *) }
    public var info: TensorInfo { TensorInfo(name: name, dtype: dtype, shape: Shape(shape)) }

    /// Bytes this tensor occupies in the written safetensors file: the tensor
    /// itself, or its compressed-tensors packed, scale, shape (and zero-point)
    /// tensors under `choice`, plus its low-rank factors (exactly what `QuantizeJob` writes).
    public func storedBytes(_ choice: TensorChoice?) -> Int {
        guard let choice else { return asStoredBytes ?? info.byteCount }
        let scheme = choice.scheme(scaleDType: [.f16, .bf16].contains(dtype) ? dtype : .f32)
        let rows = info.shape.matrixRows, columns = info.shape.matrixColumns
        // A convolution kernel's `<name>_shape` holds its 4 dims, not a matrix's 2 (`PackedLayout.storedTensors`).
        let shapeBytes = scheme.grid == .ggmlMinimum ? 0 : DType.i64.byteSize * max(0, shape.count - 2)
        return PackedLayout(scheme: scheme, rows: rows, columns: columns).storedBytes + shapeBytes
            + (choice.lowRank?.storedBytes(rows: rows, columns: columns) ?? 0)
    }
}

/// Parameters, bytes, working memory and FLOPs of a model, counted from its config.
public struct ModelAccount: Codable, Sendable {
    public var family: String
    public var tensors: [TensorAccount]
    /// The working memory of one batch-1 forward pass, with buffer reuse: buffers
    /// of different phases share memory (see `ActivationArena`).
    public var arena: ActivationArena
    public var parameters: Int { tensors.reduce(0) { $0 + $1.parameters } }
    /// Peak activation bytes: persistent buffers plus the largest phase.
    public var activationBytes: Int { arena.totalBytes }

    /// File bytes of all tensors under a per-tensor recipe (missing names kept as stored).
    public func weightBytes(_ recipe: [String: TensorChoice]) -> Int {
        tensors.reduce(0) { $0 + $1.storedBytes(recipe[$1.name]) }
    }

    /// Bytes of the row-read tables (what streaming moves to flash).
    public func rowReadBytes(_ recipe: [String: TensorChoice]) -> Int {
        tensors.filter(\.rowRead).reduce(0) { $0 + $1.storedBytes(recipe[$1.name]) }
    }
}

extension ModelAccount {
    /// The accounting of a family's layout (every tensor in `dtype`), its batch-1 working memory at `query`.
    public init(_ family: any ModelFamily, dtype: DType = .f32, query: CostQuery = CostQuery()) {
        self.init(family: family.variant,
                  tensors: family.tensorLayout.map { TensorAccount(name: $0.name, shape: $0.shape, dtype: dtype, rowRead: $0.rowRead, quantizable: $0.role == .linear) },
                  arena: family.cost(query).arena)
    }
}

/// What only recursive reasoners need for a device plan.
public enum ReasonerAccounting {
    /// Weight bytes read from memory per puzzle at `depth` when nothing stays in cache: every block call reads
    /// its block's weights, every step the heads, and one row per token and per puzzle of the embedding tables.
    public static func bytesMovedPerPuzzle(_ c: ReasonerConfig, account: ModelAccount, recipe: [String: TensorChoice], depth: RecursionDepth) -> Int {
        func bytes(_ filter: (String) -> Bool) -> Int {
            account.tensors.filter { filter($0.name) }.reduce(0) { $0 + $1.storedBytes(recipe[$1.name]) }
        }
        let family = ReasonerFamily(c)
        func level(_ l: ReasonerNames.Level) -> Set<String> {
            let layers = family.levels.first { $0.level == l }?.layers ?? 0
            return Set((0..<layers).flatMap { i -> [String] in
                let b = ReasonerNames.block(l, i)
                return [b.qkv, b.output, b.tokenGateUp, b.tokenDown, b.gateUp, b.down]
            })
        }
        let low = level(.low), high = level(.high)
        let lowBlocks = bytes { low.contains($0) } / max(1, c.lLayers)
        let highBlocks = c.arch == .hrm ? bytes { high.contains($0) } / max(1, c.hLayers) : lowBlocks
        let lowCalls = depth.hCycles * depth.lCycles * c.lLayers
        let highCalls = depth.hCycles * (c.arch == .hrm ? c.hLayers : c.lLayers)
        let heads = bytes { [ReasonerNames.lmHead, ReasonerNames.qHead, ReasonerNames.qHeadBias].contains($0) }
        let rows = c.seqLen * c.hiddenSize * 4 + (c.puzzleEmbNdim > 0 ? c.puzzleEmbNdim * 4 : 0)
        return depth.steps * (lowCalls * lowBlocks + highCalls * highBlocks + heads) + rows
    }
}
