import ShrinkTensor

/// What can go wrong binding or running a model. Each case names the file, tensor or flag and the fix.
public enum ModelError: UserFacingError, Equatable, Sendable {
    case badConfig(file: String, field: String, reason: String)
    case missingTensor(file: String, tensor: String)
    case wrongShape(file: String, tensor: String, expected: Shape, actual: Shape)
    case unexpectedTensor(file: String, tensor: String)
    case nonFinite(file: String, tensor: String)
    case dataMismatch(model: String, data: String, detail: String)
    case badRequest(flag: String, reason: String)
    /// No registered family claims the config.
    case unknownFamily(file: String, modelType: String?, architectures: [String], known: [String])
    /// The family is known, but Shrink only accounts for it (no forward pass to run).
    case notRunnable(file: String, family: String)
    /// The command needs another kind of model (e.g. a puzzle task needs a reasoner).
    case wrongFamily(file: String, family: String, needed: String)
    /// A calibration input produced a NaN or ±Inf activation.
    case nonFiniteActivation(NonFiniteActivation)

    public var description: String {
        switch self {
        case let .badConfig(f, field, r): "\(f): config field '\(field)' \(r)"
        case let .missingTensor(f, t): "\(f): missing tensor '\(t)' that the config requires (was the checkpoint saved from the same architecture?)"
        case let .wrongShape(f, t, e, a): "\(f): tensor '\(t)' has shape \(a), the config implies \(e)"
        case let .unexpectedTensor(f, t): "\(f): tensor '\(t)' is not used by this architecture; check config.json (mlp_t, pos_encodings, arch) matches the checkpoint"
        case let .nonFinite(f, t): "\(f): tensor '\(t)' holds NaN or infinite values"
        case let .dataMismatch(m, d, detail): "\(d) does not fit the model \(m): \(detail)"
        case let .badRequest(flag, r): "\(flag) \(r)"
        case let .unknownFamily(f, type, archs, known):
            "\(f): no model family Shrink knows claims this config (model_type \(type.map { "'\($0)'" } ?? "absent")"
                + (archs.isEmpty ? "" : ", architectures \(archs.joined(separator: ", "))") + "); known families: \(known.joined(separator: "; "))"
        case let .notRunnable(f, family): "\(f): Shrink counts \(family) models from their config but cannot run them yet; use `shrink account`"
        case let .wrongFamily(f, family, needed): "\(f): is a \(family) model; this needs \(needed)"
        case let .nonFiniteActivation(a): a.description
        }
    }
}
