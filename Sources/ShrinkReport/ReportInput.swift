import Foundation
import ShrinkEval
import ShrinkModels
import ShrinkPlan
import ShrinkTensor

/// Why a report could not be made: one line naming the file and the fix.
public enum ReportError: UserFacingError, Equatable {
    case unreadable(path: String)
    case notJSON(path: String, detail: String)
    case unknownKind(path: String)
    case malformed(path: String, kind: String, detail: String)
    case noInputs

    public var description: String {
        switch self {
        case let .unreadable(path): "\(path): cannot be read; check the path"
        case let .notJSON(path, detail): "\(path): not a JSON object (\(detail)); give the JSON that `shrink … --json` or `-o` wrote"
        case let .unknownKind(path):
            "\(path): not a Shrink result (none of the keys that mark eval, compare, sweep, plan or \"kind\": \"points\"); see `shrink report --help`"
        case let .malformed(path, kind, detail):
            "\(path): looks like \(kind) JSON but does not decode (\(detail)); regenerate it with this version of shrink"
        case .noInputs: "give at least one JSON file"
        }
    }
}

/// Points of another tool (or of Shrink run elsewhere) for the language-model view "mean KLD against bits per
/// weight". The one input kind that Shrink does not write itself, so it carries its kind explicitly:
///
/// ```json
/// {"kind": "points", "tool": "llama.cpp b10605", "base": "SmolLM2-135M-Instruct Q4_1 release",
///  "text": "data/text/evaluation.txt",
///  "points": [{"label": "Q4_0", "bits_per_weight": 4.5, "mean_kld": 0.296, "mean_kld_error": 0.0021}]}
/// ```
/// `tool` names the series in the legend; `base` (optional) is the model the KLD is measured against;
/// `mean_kld_error` (optional) is drawn as ± bars. Bits per weight: stored weight bytes × 8 / parameters.
public struct ToolPoints: Codable, Sendable, Equatable {
    public struct Point: Codable, Sendable, Equatable {
        public var label: String
        public var bitsPerWeight: Double
        public var meanKld: Double
        public var meanKldError: Double?
        public init(label: String, bitsPerWeight: Double, meanKld: Double, meanKldError: Double? = nil) {
            self.label = label; self.bitsPerWeight = bitsPerWeight; self.meanKld = meanKld; self.meanKldError = meanKldError
        }
    }
    public var kind: String
    public var tool: String
    public var base: String?
    public var text: String?
    public var points: [Point]
    public init(tool: String, base: String? = nil, text: String? = nil, points: [Point]) {
        self.kind = "points"; self.tool = tool; self.base = base; self.text = text; self.points = points
    }
}

/// One JSON result, decoded with the producer's own Codable type.
public enum ReportContent: Sendable {
    case evaluation(Evaluation.Report<PuzzleTask>)
    case comparison(Comparison.Report<PuzzleTask>)
    case languageComparison(LanguageComparison.Report)
    case embeddingComparison(EmbeddingComparison.Report)
    case sweep(Sweep.Report<RecursionDepth>)
    case plan(Planner.Plan)
    case points(ToolPoints)
    case imageComparison(ImageComparison.Report)
    case trainingCurve(TrainingCurve)

    /// What the kind is called in messages and section headings.
    public var kindName: String {
        switch self {
        case .evaluation: "eval"
        case .comparison: "compare --data"
        case .languageComparison: "compare --text"
        case .embeddingComparison: "compare --sentences"
        case .imageComparison: "compare --data (VAE)"
        case .trainingCurve: "VAE training curve"
        case .sweep: "sweep"
        case .plan: "plan"
        case .points: "points"
        }
    }
}

public struct ReportInput: Sendable {
    /// Shown as the section's name: the file's name without its folder and extension.
    public var name: String
    public var content: ReportContent
    public init(name: String, content: ReportContent) { self.name = name; self.content = content }

    /// Reads one result file. The kind is told by its top-level keys (documented in `kind(of:)`).
    public static func load(_ path: String) throws -> ReportInput {
        guard let data = FileManager.default.contents(atPath: path) else { throw ReportError.unreadable(path: path) }
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return ReportInput(name: name, content: try decode(data, path: path))
    }

    /// The kinds, told apart by keys that only that producer writes at the top level:
    /// `"kind": "points"` → points; `trained_h_cycles` + `rows` → sweep; `kld_distribution` → compare --text;
    /// `embedding_cosine` → compare --sentences; `exact_difference` + `fidelity` → compare --data;
    /// `device` + `budget` + `models` → plan; `per_step` + `accuracy` → eval.
    static func kind(of keys: Set<String>, kindField: String?) -> String? {
        if kindField == "points" { return "points" }
        if keys.isSuperset(of: ["trained_h_cycles", "rows"]) { return "sweep" }
        if keys.contains("kld_distribution") { return "compare --text" }
        if keys.contains("embedding_cosine") { return "compare --sentences" }
        if keys.isSuperset(of: ["latent_cosine", "negative_elbo"]) { return "compare --data (VAE)" }
        if keys.isSuperset(of: ["curve", "best_validation_neg_elbo"]) { return "VAE training curve" }
        if keys.isSuperset(of: ["exact_difference", "fidelity"]) { return "compare --data" }
        if keys.isSuperset(of: ["device", "budget", "models"]) { return "plan" }
        if keys.isSuperset(of: ["per_step", "accuracy"]) { return "eval" }
        return nil
    }

    public static func decode(_ data: Data, path: String) throws -> ReportContent {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ReportError.notJSON(path: path, detail: "\(error.localizedDescription)")
        }
        guard let top = object as? [String: Any] else { throw ReportError.notJSON(path: path, detail: "the top level is not an object") }
        guard let kind = kind(of: Set(top.keys), kindField: top["kind"] as? String) else { throw ReportError.unknownKind(path: path) }
        let d = decoder()
        do {
            switch kind {
            case "points": return .points(try d.decode(ToolPoints.self, from: data))
            case "sweep": return .sweep(try d.decode(Sweep.Report<RecursionDepth>.self, from: data))
            case "compare --text": return .languageComparison(try d.decode(LanguageComparison.Report.self, from: data))
            case "compare --sentences": return .embeddingComparison(try d.decode(EmbeddingComparison.Report.self, from: data))
            case "compare --data (VAE)": return .imageComparison(try d.decode(ImageComparison.Report.self, from: data))
            case "VAE training curve": return .trainingCurve(try d.decode(TrainingCurve.self, from: data))
            case "compare --data": return .comparison(try d.decode(Comparison.Report<PuzzleTask>.self, from: data))
            case "plan": return .plan(try d.decode(Planner.Plan.self, from: data))
            default: return .evaluation(try d.decode(Evaluation.Report<PuzzleTask>.self, from: data))
            }
        } catch let e as DecodingError {
            throw ReportError.malformed(path: path, kind: kind, detail: describe(e))
        }
    }

    static func describe(_ e: DecodingError) -> String {
        // The path as the file spells it: snake-case keys, array positions as numbers.
        func name(_ k: CodingKey) -> String { k.intValue.map(String.init) ?? snakeCase(k.stringValue) }
        func at(_ c: DecodingError.Context) -> String { c.codingPath.map(name).joined(separator: ".") }
        switch e {
        case let .keyNotFound(k, c): return "key '\(([at(c)] + [name(k)]).filter { !$0.isEmpty }.joined(separator: "."))' is missing"
        case let .typeMismatch(_, c), let .valueNotFound(_, c): return "'\(at(c))' has the wrong type"
        case let .dataCorrupted(c): return "'\(at(c))': \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    /// Reads what Shrink's encoders wrote (`convertToSnakeCase`, infinities as "inf"). Snake case is undone
    /// except where a key is data rather than a field name (device profiles spell their own keys, `quantize`
    /// maps tensor names) and where the camel-case name has an acronym or a digit group that the plain
    /// conversion cannot restore.
    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        d.keyDecodingStrategy = .custom { path in
            let key = path[path.count - 1]
            if path.dropLast().contains(where: { ["device", "quantize", "sources"].contains($0.stringValue) }) { return key }
            if let exact = exceptions[key.stringValue] { return AnyKey(exact) }
            return AnyKey(camelCase(key.stringValue))
        }
        return d
    }

    /// snake_case keys whose Swift names `convertFromSnakeCase` would not give back.
    static let exceptions = [
        "p99_9": "p99_9", "p0_1": "p0_1",
        "delta_prms": "deltaPRMS", "chunk_nll_difference": "chunkNLLDifference", "chunk_nll_difference_p": "chunkNLLDifferenceP",
        "negative_elbo": "negativeELBO", "reconstruction_psnr": "reconstructionPSNR",
    ]

    /// Foundation's `convertFromSnakeCase` rule: drop underscores, capitalise each word after the first
    /// (leading and trailing underscores kept).
    static func camelCase(_ s: String) -> String {
        guard s.contains("_") else { return s }
        let parts = s.split(separator: "_", omittingEmptySubsequences: true)
        guard let first = parts.first else { return s }
        return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// The key as Shrink's encoders write it (`convertToSnakeCase`): `bitsPerWeight` → `bits_per_weight`.
    static func snakeCase(_ s: String) -> String {
        var out = ""
        for (i, ch) in s.enumerated() {
            if ch.isUppercase, i > 0, !out.hasSuffix("_") { out += "_" }
            out += ch.lowercased()
        }
        return out
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
    }
}
