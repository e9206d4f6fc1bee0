import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// What a model costs, counted from its config alone (no weights needed): the
/// numbers `shrink account` prints for a TRM/HRM config or a Hugging Face
/// decoder `config.json`, under a uniform recipe, and whether it fits a device.
public struct ConfigAccount: Codable, Sendable {
    public struct Fit: Codable, Sendable {
        public var device: String
        /// Weights that must sit in RAM (all of them on RAM-weight devices), plus working memory.
        public var ramBytes: Int
        public var ramAvailable: Int
        /// Weights in flash: everything on flash-weight devices, the row-read tables when streamed.
        public var flashBytes: Int
        public var flashAvailable: Int
        public var fits: Bool
        public var streamedRowReadTables: Bool
    }

    public var family: String
    public var parameters: Int
    public var fp32Bytes: Int
    public var recipe: String
    public var weightBytes: Int
    public var rowReadBytes: Int
    /// Peak batch-1 activation bytes with buffer reuse (`ActivationArena`).
    public var activationBytes: Int
    /// Of which persistent (carries, KV cache, ...); the rest is `largestPhase`.
    public var persistentActivationBytes: Int
    public var largestPhase: String?
    /// FLOPs per puzzle at `steps` (reasoners) or per decoded token at `context` (decoders).
    public var flops: Int
    public var flopsUnit: String
    public var largestTensors: [TensorBytes]
    public var fit: Fit?

    public struct TensorBytes: Codable, Sendable {
        public var name: String
        public var shape: [Int]
        public var bytes: Int
        public var rowRead: Bool
    }

    /// - Parameters:
    ///   - choice: applied to every quantizable tensor (nil: as stored); row-read
    ///     tables only when `quantizeRowRead`, as `shrink quantize --embeddings`.
    ///   - steps: supervision steps for a reasoner's FLOPs (default halt_max_steps).
    ///   - context: tokens of context for a decoder's KV cache and FLOPs.
    public static func make(_ family: any ModelFamily, choice: TensorChoice?, quantizeRowRead: Bool = false,
                            steps: Int? = nil, context: Int = 2048, device: DeviceProfile? = nil,
                            stored: (any TensorSource)? = nil) -> ConfigAccount {
        let query = CostQuery(steps: steps, context: context)
        var account = ModelAccount(family, dtype: family.parameterDType, query: query)
        if let stored {
            for i in account.tensors.indices { account.tensors[i].asStoredBytes = stored.storedByteCount(account.tensors[i].name) }
        }
        let cost = family.cost(query)
        let flops = cost.flops, unit = cost.flopsUnit
        var recipe: [String: TensorChoice] = [:]
        if let choice {
            for t in account.tensors where t.quantizable && (quantizeRowRead || !t.rowRead) {
                if case let .group(size) = choice.granularity, t.shape.count == 2, t.shape[1] % size != 0 { continue }
                recipe[t.name] = choice
            }
        }
        let weights = account.weightBytes(recipe), rows = account.rowReadBytes(recipe)
        var fit: Fit?
        if let device {
            // Stream the row-read tables from flash when flash holds them and RAM is the tighter side.
            let stream = rows > 0 && device.flashBytes >= (device.weightMemory == .flash ? weights : rows)
            let resident = device.weightMemory == .ram ? weights - (stream ? rows : 0) : 0
            let flash = device.weightMemory == .flash ? weights : (stream ? rows : 0)
            let ram = resident + account.activationBytes
            fit = Fit(device: device.name, ramBytes: ram, ramAvailable: device.ramBytes, flashBytes: flash,
                      flashAvailable: device.flashBytes, fits: ram <= device.ramBytes && flash <= device.flashBytes,
                      streamedRowReadTables: stream)
        }
        let largest = account.tensors.map { TensorBytes(name: $0.name, shape: $0.shape, bytes: $0.storedBytes(recipe[$0.name]), rowRead: $0.rowRead) }
            .sorted { ($0.bytes, $1.name) > ($1.bytes, $0.name) }.prefix(8)
        return ConfigAccount(family: account.family, parameters: account.parameters, fp32Bytes: account.parameters * 4,
                             recipe: recipe.isEmpty ? "as stored" : "\(choice!) on \(recipe.count) tensors",
                             weightBytes: weights, rowReadBytes: rows, activationBytes: account.activationBytes,
                             persistentActivationBytes: account.arena.persistentBytes, largestPhase: account.arena.largestPhase,
                             flops: flops, flopsUnit: unit, largestTensors: Array(largest), fit: fit)
    }
}
