import Foundation
import ShrinkFormats
import ShrinkTensor

/// One tensor's quantization in a per-tensor recipe (what `shrink plan` writes and
/// `shrink quantize --recipe` applies).
public struct TensorChoice: Codable, Hashable, Sendable, CustomStringConvertible {
    /// rtn: min-max round-to-nearest; mse: searched clip ratio; gptq: error
    /// feedback with the layer's input Hessian (needs calibration puzzles).
    public enum Method: String, Codable, Sendable, CaseIterable {
        case rtn, mse, gptq
        public var needsCalibration: Bool { self == .gptq }
    }

    public var bits: Int
    /// "tensor", "channel" or "group" (compressed-tensors' strategy names).
    public var strategy: String
    public var groupSize: Int?
    public var method: Method

    public init(bits: Int, granularity: Granularity, method: Method) {
        self.bits = bits; strategy = granularity.strategy; groupSize = granularity.groupSize; self.method = method
    }

    enum CodingKeys: String, CodingKey { case bits, strategy, groupSize = "group_size", method }

    public var granularity: Granularity? {
        switch (strategy, groupSize) {
        case ("tensor", nil): .tensor
        case ("channel", nil): .channel
        case let ("group", g?) where g > 0: .group(g)
        default: nil
        }
    }

    public var clipping: RangeClipping { method == .mse ? RangeClipping.defaultMSE : .minMax }

    public var needsCalibration: Bool { method.needsCalibration }

    public func scheme(scaleDType: DType) -> QuantScheme? {
        granularity.map { QuantScheme(bits: bits, granularity: $0, symmetric: true, scaleDType: scaleDType) }
    }

    public var description: String {
        "int\(bits) \(granularity.map { "\($0)" } ?? strategy) \(method.rawValue)"
    }

    /// Reads the per-tensor choices of one model from a plan file: the top-level
    /// `quantize` object, or, for a stack, the `models[i].quantize` whose `name`
    /// equals `model` (the only one when there is one).
    public static func loadRecipe(path: String, model: String) throws -> [String: TensorChoice] {
        try loadRecipeFile(path: path, model: model).choices
    }

    /// A recipe and, when it has calibrated choices, how many calibration puzzles
    /// the plan captured its statistics on (`calibration_puzzles`).
    public struct RecipeFile: Sendable {
        public var choices: [String: TensorChoice]
        public var calibrationPuzzles: Int?
        public var needsCalibration: Bool { choices.values.contains(where: \.needsCalibration) }
    }

    public static func loadRecipeFile(path: String, model: String) throws -> RecipeFile {
        func bad(_ detail: String) -> FormatError { .shardIndexInvalid(index: path, detail: detail) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError.cannotOpen(file: path, reason: "cannot read the recipe file")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch { throw bad("is not JSON: \(error.localizedDescription)") }
        guard let top = object as? [String: Any] else { throw bad("is not a JSON object") }
        var entry: Any? = top["quantize"]
        var puzzles = top["calibration_puzzles"]
        if entry == nil, let models = top["models"] as? [[String: Any]] {
            let match = models.count == 1 ? models.first : models.first { ($0["name"] as? String) == model }
            guard let match else {
                let names = models.compactMap { $0["name"] as? String }.joined(separator: ", ")
                throw bad("has no plan for model '\(model)' (it plans: \(names))")
            }
            entry = match["quantize"]
            puzzles = match["calibration_puzzles"]
        }
        guard let entry, JSONSerialization.isValidJSONObject(entry) else { throw bad("has no 'quantize' object (tensor name → {bits, strategy, group_size, method})") }
        let choices: [String: TensorChoice]
        do {
            choices = try JSONDecoder().decode([String: TensorChoice].self, from: JSONSerialization.data(withJSONObject: entry))
        } catch {
            throw bad("'quantize' entries need bits, strategy (tensor|channel|group), group_size for groups, method (rtn|mse|gptq): \(error)")
        }
        for (name, c) in choices {
            guard QuantScheme.supportedBits.contains(c.bits) else { throw QuantizationError.unsupportedBits(flag: "\(path): \(name).bits", bits: c.bits) }
            guard c.granularity != nil else { throw bad("tensor '\(name)': strategy '\(c.strategy)' with group_size \(c.groupSize.map(String.init) ?? "none") is not valid") }
        }
        if let puzzles, !(puzzles is Int) || (puzzles as! Int) < 1 { throw bad("'calibration_puzzles' must be a positive integer") }
        return RecipeFile(choices: choices, calibrationPuzzles: puzzles as? Int)
    }
}
