import Foundation
import ShrinkTensor

/// A per-tensor recipe read from a plan file (`shrink plan -o`): the top-level `quantize` object, or, for a
/// stack, the `models[i].quantize` whose `name` is the model's (the only one when there is one).
public struct RecipeFile: Sendable, Equatable {
    public var choices: [String: TensorChoice]
    /// How many calibration puzzles the plan captured its statistics on (`calibration_puzzles`), when any
    /// choice needs calibration.
    public var calibrationPuzzles: Int?
    public var needsCalibration: Bool { choices.values.contains(where: \.needsCalibration) }

    public init(choices: [String: TensorChoice], calibrationPuzzles: Int? = nil) {
        self.choices = choices; self.calibrationPuzzles = calibrationPuzzles
    }

    /// The parts of a plan file a recipe needs; everything else in it is ignored.
    struct Entry: Decodable {
        var name: String?
        var quantize: [String: TensorChoice]?
        var calibrationPuzzles: Int?
        enum CodingKeys: String, CodingKey { case name, quantize, calibrationPuzzles = "calibration_puzzles", models }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            quantize = try c.decodeIfPresent([String: TensorChoice].self, forKey: .quantize)
            calibrationPuzzles = try c.decodeIfPresent(Int.self, forKey: .calibrationPuzzles)
        }
    }

    struct File: Decodable {
        var top: Entry
        var models: [Entry]?
        init(from decoder: Decoder) throws {
            top = try Entry(from: decoder)
            models = try decoder.container(keyedBy: Entry.CodingKeys.self).decodeIfPresent([Entry].self, forKey: .models)
        }
    }

    public static func load(path: String, model: String) throws -> RecipeFile {
        guard let data = FileManager.default.contents(atPath: path) else { throw RecipeFileError.unreadable(file: path) }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw RecipeFileError.describe(error, file: path)
        }
        var entry = file.top
        if entry.quantize == nil, let models = file.models {
            guard let match = models.count == 1 ? models.first : models.first(where: { $0.name == model }) else {
                throw RecipeFileError.noPlanForModel(file: path, model: model, planned: models.compactMap(\.name))
            }
            entry = match
        }
        guard let choices = entry.quantize else { throw RecipeFileError.missingQuantize(file: path) }
        if let n = entry.calibrationPuzzles, n < 1 { throw RecipeFileError.badCalibrationPuzzles(file: path, value: n) }
        return RecipeFile(choices: choices, calibrationPuzzles: entry.calibrationPuzzles)
    }
}

/// A recipe (plan) file that cannot be applied. Each case names the file and what to fix.
public enum RecipeFileError: UserFacingError, Equatable, Sendable {
    case unreadable(file: String)
    case notJSON(file: String, detail: String)
    case noPlanForModel(file: String, model: String, planned: [String])
    case missingQuantize(file: String)
    /// One `quantize` entry (or another field) is not what a recipe holds.
    case badEntry(file: String, path: String, detail: String)
    case badCalibrationPuzzles(file: String, value: Int)

    public var description: String {
        switch self {
        case let .unreadable(f): "\(f): cannot read the recipe file"
        case let .notJSON(f, d): "\(f): is not a JSON recipe: \(d)"
        case let .noPlanForModel(f, m, planned): "\(f): has no plan for model '\(m)' (it plans: \(planned.joined(separator: ", ")))"
        case let .missingQuantize(f): "\(f): has no 'quantize' object (tensor name → {bits, strategy, group_size, method})"
        case let .badEntry(f, p, d): "\(f): '\(p)': \(d)"
        case let .badCalibrationPuzzles(f, v): "\(f): 'calibration_puzzles' must be a positive integer, is \(v)"
        }
    }

    static func describe(_ error: Error, file: String) -> RecipeFileError {
        func path(_ keys: [CodingKey]) -> String { keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") }
        switch error {
        case let DecodingError.dataCorrupted(ctx):
            if ctx.codingPath.isEmpty { return .notJSON(file: file, detail: ctx.underlyingError.map { "\($0)" } ?? ctx.debugDescription) }
            return .badEntry(file: file, path: path(ctx.codingPath), detail: ctx.debugDescription)
        case let DecodingError.keyNotFound(key, ctx):
            return .badEntry(file: file, path: path(ctx.codingPath), detail: "needs '\(key.stringValue)' (entries are {bits, strategy, group_size, method})")
        case let DecodingError.typeMismatch(type, ctx):
            return .badEntry(file: file, path: path(ctx.codingPath), detail: "should be \(type)")
        case let DecodingError.valueNotFound(type, ctx):
            return .badEntry(file: file, path: path(ctx.codingPath), detail: "is null, should be \(type)")
        default:
            return .notJSON(file: file, detail: "\(error)")
        }
    }
}
